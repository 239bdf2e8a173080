import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Authority, ItemState, PurchaseTicket, SaleSnapshot, SaleStats } from './authority.ts';
import { type DropFailure, Failures } from './errors.ts';
import type { SaleWindow } from './sale-clock.ts';

/*
 * The shared authority: the live inventory in Redis, one Lua script per decision (Redis runs a script
 * alone, so each decision is atomic across all API processes). Keys are per sale and share a hash tag,
 * `<prefix>{<sale>}:…`, so one sale lives in one cluster slot, and expire shortly after the sale ends:
 * nothing of a sale survives into the next one.
 *
 *   items  hash   item → "r:<expires ms>:<code>" held | "p:<deadline ms>:<code>" purchase being written | "s:<code>" sold
 *   codes  hash   code → "<item>:<user>:<expires ms>:<state>"  state l live, p purchasing, u used, c lost to a conflict
 *   users  hash   <user> → purchases (incl. in flight); <user>:h → live holds "<expires>=<code>," …
 *   holds  zset   code scored by expiry: live holds, for counting
 *   sold   set    sold item ids (idempotent counting)
 *   meta   hash   first → first checkout ms; soldOut → ms of the purchase that sold the last item
 *
 * A hold or an in-flight purchase whose time has passed is free: no sweeper is needed. An in-flight
 * purchase whose process died becomes free after PENDING_MS; if its write did commit, the database's
 * primary key refuses the second sale of the item and the item is marked sold (`conflict`).
 */

const PRELUDE = `
local function without(held, code)
  local kept = ''
  if held then
    for e, c in string.gmatch(held, '(%d+)=([^,]+),') do
      if c ~= code then kept = kept .. e .. '=' .. c .. ',' end
    end
  end
  return kept
end
local function touch(at)
  for i = 1, #KEYS do redis.call('PEXPIREAT', KEYS[i], at) end
end
`;

// ARGV: item, user, code, now, expiresAt, limit, keysExpireAt → 0 held, 1 item unavailable, 2 user limit
const CHECKOUT = `${PRELUDE}
local now = tonumber(ARGV[4])
local slot = redis.call('HGET', KEYS[1], ARGV[1])
if slot then
  if string.byte(slot, 1) == 115 then return 1 end
  local untilMs, holder = string.match(slot, '^%a:(%d+):(.+)$')
  if tonumber(untilMs) > now then return 1 end
  redis.call('ZREM', KEYS[4], holder)
end
local user = ARGV[2]
local hkey = user .. ':h'
local held = redis.call('HGET', KEYS[3], hkey)
local kept = ''
local live = 0
if held then
  for e, c in string.gmatch(held, '(%d+)=([^,]+),') do
    if tonumber(e) > now then
      live = live + 1
      kept = kept .. e .. '=' .. c .. ','
    end
  end
end
local bought = tonumber(redis.call('HGET', KEYS[3], user) or '0')
if bought + live >= tonumber(ARGV[6]) then return 2 end
redis.call('HSET', KEYS[1], ARGV[1], 'r:' .. ARGV[5] .. ':' .. ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1] .. ':' .. user .. ':' .. ARGV[5] .. ':l')
redis.call('HSET', KEYS[3], hkey, kept .. ARGV[5] .. '=' .. ARGV[3] .. ',')
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])
redis.call('HSETNX', KEYS[6], 'first', ARGV[4])
touch(ARGV[7])
return 0`;

// ARGV: code, now, pendingUntil, keysExpireAt → {0, item, user} | {3} unknown | {4} used | {5} expired
const PURCHASE_BEGIN = `${PRELUDE}
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return {3} end
local item, user, exp, st = string.match(rec, '^(%d+):(%d+):(%d+):(%a)$')
if st ~= 'l' then return {4} end
if tonumber(exp) <= tonumber(ARGV[2]) then return {5} end
if redis.call('HGET', KEYS[1], item) ~= 'r:' .. exp .. ':' .. ARGV[1] then return {5} end
redis.call('HSET', KEYS[1], item, 'p:' .. ARGV[3] .. ':' .. ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], item .. ':' .. user .. ':' .. exp .. ':p')
redis.call('HSET', KEYS[3], user .. ':h', without(redis.call('HGET', KEYS[3], user .. ':h'), ARGV[1]))
redis.call('HINCRBY', KEYS[3], user, 1)
redis.call('ZREM', KEYS[4], ARGV[1])
touch(ARGV[4])
return {0, item, user}`;

// ARGV: code, now, items per sale, keysExpireAt
const PURCHASE_CONFIRM = `${PRELUDE}
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return 0 end
local item, user, exp, st = string.match(rec, '^(%d+):(%d+):(%d+):(%a)$')
if st ~= 'p' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], item .. ':' .. user .. ':' .. exp .. ':u')
redis.call('HSET', KEYS[1], item, 's:' .. ARGV[1])
redis.call('SADD', KEYS[5], item)
if redis.call('SCARD', KEYS[5]) >= tonumber(ARGV[3]) then redis.call('HSETNX', KEYS[6], 'soldOut', ARGV[2]) end
touch(ARGV[4])
return 1`;

// ARGV: code, now, keysExpireAt
const PURCHASE_ABORT = `${PRELUDE}
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return 0 end
local item, user, exp, st = string.match(rec, '^(%d+):(%d+):(%d+):(%a)$')
if st ~= 'p' then return 0 end
redis.call('HINCRBY', KEYS[3], user, -1)
redis.call('HSET', KEYS[2], ARGV[1], item .. ':' .. user .. ':' .. exp .. ':l')
local slot = redis.call('HGET', KEYS[1], item)
if slot and string.match(slot, '^p:%d+:(.+)$') == ARGV[1] then
  if tonumber(exp) > tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], item, 'r:' .. exp .. ':' .. ARGV[1])
    local hkey = user .. ':h'
    redis.call('HSET', KEYS[3], hkey, (redis.call('HGET', KEYS[3], hkey) or '') .. exp .. '=' .. ARGV[1] .. ',')
    redis.call('ZADD', KEYS[4], exp, ARGV[1])
  else
    redis.call('HDEL', KEYS[1], item)
  end
end
touch(ARGV[3])
return 1`;

// ARGV: code, items per sale, now, keysExpireAt
const CONFLICT = `${PRELUDE}
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return 0 end
local item, user, exp, st = string.match(rec, '^(%d+):(%d+):(%d+):(%a)$')
if st ~= 'p' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], item .. ':' .. user .. ':' .. exp .. ':c')
redis.call('HINCRBY', KEYS[3], user, -1)
redis.call('HSET', KEYS[1], item, 's:?')
redis.call('SADD', KEYS[5], item)
if redis.call('SCARD', KEYS[5]) >= tonumber(ARGV[2]) then redis.call('HSETNX', KEYS[6], 'soldOut', ARGV[3]) end
touch(ARGV[4])
return 1`;

// ARGV: code
const RELEASE = `${PRELUDE}
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return 0 end
local item, user, exp, st = string.match(rec, '^(%d+):(%d+):(%d+):(%a)$')
if st ~= 'l' then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], item) == 'r:' .. exp .. ':' .. ARGV[1] then redis.call('HDEL', KEYS[1], item) end
redis.call('HSET', KEYS[3], user .. ':h', without(redis.call('HGET', KEYS[3], user .. ':h'), ARGV[1]))
redis.call('ZREM', KEYS[4], ARGV[1])
return 1`;

// A purchase the database has. ARGV: code, item, user, now, items per sale, keysExpireAt
const RESTORE_PURCHASE = `${PRELUDE}
local code, item, user = ARGV[1], ARGV[2], ARGV[3]
local rec = redis.call('HGET', KEYS[2], code)
local st = rec and string.match(rec, ':(%a)$')
if st == 'u' then return 0 end
if st == 'l' then
  redis.call('HSET', KEYS[3], user .. ':h', without(redis.call('HGET', KEYS[3], user .. ':h'), code))
  redis.call('ZREM', KEYS[4], code)
end
if st ~= 'p' then redis.call('HINCRBY', KEYS[3], user, 1) end
local slot = redis.call('HGET', KEYS[1], item)
if slot then
  local other = string.match(slot, '^r:%d+:(.+)$')
  if other and other ~= code then redis.call('ZREM', KEYS[4], other) end
end
redis.call('HSET', KEYS[2], code, item .. ':' .. user .. ':0:u')
redis.call('HSET', KEYS[1], item, 's:' .. code)
redis.call('SADD', KEYS[5], item)
if redis.call('SCARD', KEYS[5]) >= tonumber(ARGV[5]) then redis.call('HSETNX', KEYS[6], 'soldOut', ARGV[4]) end
touch(ARGV[6])
return 1`;

// A live reservation the database has. ARGV: code, item, user, expiresAt, now, keysExpireAt
const RESTORE_HOLD = `${PRELUDE}
local code, item, user, exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(ARGV[5])
if redis.call('HEXISTS', KEYS[2], code) == 1 or tonumber(exp) <= now then return 0 end
local slot = redis.call('HGET', KEYS[1], item)
if slot then
  if string.byte(slot, 1) == 115 then return 0 end
  local untilMs = string.match(slot, '^%a:(%d+):')
  if tonumber(untilMs) > now then return 0 end
end
redis.call('HSET', KEYS[1], item, 'r:' .. exp .. ':' .. code)
redis.call('HSET', KEYS[2], code, item .. ':' .. user .. ':' .. exp .. ':l')
local hkey = user .. ':h'
redis.call('HSET', KEYS[3], hkey, (redis.call('HGET', KEYS[3], hkey) or '') .. exp .. '=' .. code .. ',')
redis.call('ZADD', KEYS[4], exp, code)
touch(ARGV[6])
return 1`;

// ARGV: now → {sold, live holds, first checkout ms or false, sold-out ms or false}
const STATS = `
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])
return {
  redis.call('SCARD', KEYS[5]),
  redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[1], '+inf'),
  redis.call('HGET', KEYS[6], 'first'),
  redis.call('HGET', KEYS[6], 'soldOut'),
}`;

type Keys = readonly [string, string, string, string, string, string];
type Arg = string | number;

/** The scripts, registered with `defineCommand`: ioredis sends them by SHA and reloads them after NOSCRIPT. */
interface DropScripts {
  boxofficeDropsCheckout(...args: [...Keys, ...Arg[]]): Promise<number>;
  boxofficeDropsPurchaseBegin(...args: [...Keys, ...Arg[]]): Promise<[number, string?, string?]>;
  boxofficeDropsPurchaseConfirm(...args: [...Keys, ...Arg[]]): Promise<number>;
  boxofficeDropsPurchaseAbort(...args: [...Keys, ...Arg[]]): Promise<number>;
  boxofficeDropsConflict(...args: [...Keys, ...Arg[]]): Promise<number>;
  boxofficeDropsRelease(...args: [...Keys, ...Arg[]]): Promise<number>;
  boxofficeDropsRestorePurchase(...args: [...Keys, ...Arg[]]): Promise<number>;
  boxofficeDropsRestoreHold(...args: [...Keys, ...Arg[]]): Promise<number>;
  boxofficeDropsStats(...args: [...Keys, ...Arg[]]): Promise<[number, number, string | null, string | null]>;
}

const SCRIPTS: Record<keyof DropScripts, string> = {
  boxofficeDropsCheckout: CHECKOUT,
  boxofficeDropsPurchaseBegin: PURCHASE_BEGIN,
  boxofficeDropsPurchaseConfirm: PURCHASE_CONFIRM,
  boxofficeDropsPurchaseAbort: PURCHASE_ABORT,
  boxofficeDropsConflict: CONFLICT,
  boxofficeDropsRelease: RELEASE,
  boxofficeDropsRestorePurchase: RESTORE_PURCHASE,
  boxofficeDropsRestoreHold: RESTORE_HOLD,
  boxofficeDropsStats: STATS,
};

/**
 * How long a purchase may be in flight before its item counts as free again (its process died). A write
 * takes milliseconds; should one take longer and the item be checked out again meanwhile, the database's
 * primary key refuses the second purchase (a clean 409). Short, so a crash keeps items off sale briefly.
 */
const PENDING_MS = 5_000;
/** Keys outlive their sale by this much, for the last in-flight writes' confirmations. */
const KEY_GRACE_MS = 60_000;
const RESTORE_CHUNK = 500;

export interface RedisAuthorityOptions {
  client: Redis;
  /** e.g. `boxoffice:drops:` */
  prefix: string;
  items: number;
  perUserLimit: number;
}

export class RedisAuthority implements Authority {
  readonly kind = 'redis' as const;
  readonly #client: Redis & DropScripts;
  readonly #prefix: string;
  readonly #size: number;
  readonly #limit: number;
  #keysFor = -1;
  #keys: Keys = ['', '', '', '', '', ''];

  constructor(options: RedisAuthorityOptions) {
    for (const [name, lua] of Object.entries(SCRIPTS))
      options.client.defineCommand(name, { numberOfKeys: 6, lua });
    this.#client = options.client as Redis & DropScripts;
    this.#prefix = options.prefix;
    this.#size = options.items;
    this.#limit = options.perUserLimit;
  }

  async checkout(
    sale: SaleWindow,
    user: string,
    item: number,
    now: number,
    expiresAt: number,
  ): Promise<string | DropFailure> {
    const code = randomUUID();
    const result = await this.#client.boxofficeDropsCheckout(
      ...this.#keysOf(sale),
      item,
      user,
      code,
      now,
      expiresAt,
      this.#limit,
      this.#expireAt(sale),
    );
    return result === 0 ? code : result === 1 ? Failures.itemUnavailable : Failures.userLimit;
  }

  async release(sale: SaleWindow, code: string): Promise<void> {
    await this.#client.boxofficeDropsRelease(...this.#keysOf(sale), code);
  }

  async beginPurchase(sale: SaleWindow, code: string, now: number): Promise<PurchaseTicket | DropFailure> {
    const [result, item, user] = await this.#client.boxofficeDropsPurchaseBegin(
      ...this.#keysOf(sale),
      code,
      now,
      now + PENDING_MS,
      this.#expireAt(sale),
    );
    if (result === 0) return { code, item: Number(item), user: user! };
    return result === 3 ? Failures.codeUnknown : result === 4 ? Failures.codeUsed : Failures.codeExpired;
  }

  async confirmPurchase(sale: SaleWindow, code: string, now: number): Promise<void> {
    await this.#client.boxofficeDropsPurchaseConfirm(
      ...this.#keysOf(sale),
      code,
      now,
      this.#size,
      this.#expireAt(sale),
    );
  }

  async abortPurchase(sale: SaleWindow, code: string, now: number): Promise<void> {
    await this.#client.boxofficeDropsPurchaseAbort(...this.#keysOf(sale), code, now, this.#expireAt(sale));
  }

  async conflict(sale: SaleWindow, code: string): Promise<void> {
    await this.#client.boxofficeDropsConflict(
      ...this.#keysOf(sale),
      code,
      this.#size,
      Date.now(),
      this.#expireAt(sale),
    );
  }

  async restore(sale: SaleWindow, snapshot: SaleSnapshot, now: number): Promise<void> {
    const keys = this.#keysOf(sale);
    const expireAt = this.#expireAt(sale);
    // Commands issued together share round trips (auto-pipelining); chunks bound the memory in flight.
    for (let i = 0; i < snapshot.purchases.length; i += RESTORE_CHUNK) {
      await Promise.all(
        snapshot.purchases
          .slice(i, i + RESTORE_CHUNK)
          .map((p) =>
            this.#client.boxofficeDropsRestorePurchase(
              ...keys,
              p.code,
              p.item,
              p.user,
              now,
              this.#size,
              expireAt,
            ),
          ),
      );
    }
    // In order (oldest first), so a later reservation of an item wins, as in the memory authority.
    for (const r of snapshot.reservations) {
      await this.#client.boxofficeDropsRestoreHold(
        ...keys,
        r.code,
        r.item,
        r.user,
        r.expiresAt,
        now,
        expireAt,
      );
    }
  }

  async stats(sale: SaleWindow, now: number): Promise<SaleStats> {
    const [sold, reserved, first, soldOut] = await this.#client.boxofficeDropsStats(
      ...this.#keysOf(sale),
      now,
    );
    return {
      sold: Number(sold),
      reserved: Number(reserved),
      firstCheckoutAt: first ? Number(first) : null,
      soldOutAt: soldOut ? Number(soldOut) : null,
    };
  }

  async itemStates(sale: SaleWindow, from: number, to: number, now: number): Promise<ItemState[]> {
    if (to <= from) return [];
    const fields: string[] = [];
    for (let i = from; i < to; i++) fields.push(String(i));
    const slots = await this.#client.hmget(this.#keysOf(sale)[0], ...fields);
    return slots.map((slot): ItemState => {
      if (!slot) return 'available';
      if (slot.startsWith('s:')) return 'sold';
      const until = Number(slot.slice(2, slot.indexOf(':', 2)));
      if (until <= now) return 'available';
      return slot.startsWith('p:') ? 'sold' : 'reserved';
    });
  }

  /** The keys of a sale; recomputed only when the sale changes. */
  #keysOf(sale: SaleWindow): Keys {
    if (this.#keysFor !== sale.number) {
      const base = `${this.#prefix}{${sale.number}}:`;
      this.#keys = [
        `${base}items`,
        `${base}codes`,
        `${base}users`,
        `${base}holds`,
        `${base}sold`,
        `${base}meta`,
      ];
      this.#keysFor = sale.number;
    }
    return this.#keys;
  }

  #expireAt(sale: SaleWindow): number {
    return sale.endsAt + KEY_GRACE_MS;
  }
}
