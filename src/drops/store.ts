import type { Queryable, Sql } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import type { SaleSnapshot } from './authority.ts';
import type { CheckoutOutcome } from './errors.ts';
import * as events from './events.ts';
import type { SaleWindow } from './sale-clock.ts';

/** All SQL of the drops module. The tables are private to it (migrations/0003_drops.sql). */

export const ATTEMPT = 0;
export const PURCHASE = 1;

/** One checkout attempt; with outcome `reserved` it also carries the reservation (`code`, `expiresAt`). */
export interface AttemptWrite {
  kind: typeof ATTEMPT;
  sale: number;
  user: string | null;
  item: number | null;
  outcome: CheckoutOutcome;
  code: string | null;
  at: number;
  expiresAt: number;
}

export interface PurchaseWrite {
  kind: typeof PURCHASE;
  sale: number;
  item: number;
  user: string;
  code: string;
  at: number;
}

export type DropWrite = AttemptWrite | PurchaseWrite;

/** `conflict`: the item was already sold to another code; the purchase was not written. */
export type WriteResult = 'ok' | 'conflict';

/** Outcomes of refused attempts as sent to the database: their index here (see `refusals` below). */
const OUTCOMES: readonly CheckoutOutcome[] = ['reserved', 'unavailable', 'user_limit', 'invalid', 'failed'];
const OUTCOME_INDEX = new Map(OUTCOMES.map((outcome, index) => [outcome, index]));

/**
 * The group-committed writes. Each batch is ONE statement, run outside an explicit transaction (a
 * statement is atomic by itself): one round trip to PostgreSQL instead of three or four (BEGIN, the
 * inserts, the events, COMMIT). Under a storm every round trip waits for a turn of a busy event loop
 * (a few milliseconds), so this is what a waiting client's latency is made of. Rows go in through
 * `unnest` of array parameters (array literals built here, cheaper than the driver's per-element
 * serialisation).
 *
 * Refused attempts, the bulk of a storm, have their own committer and statement (`writeRefusals`), so a
 * reservation or purchase never waits behind thousands of them; reservations (with their `reserved`
 * attempt rows) and purchases (with their `drop.purchased` events) share `writeDurable`.
 */

/**
 * Refused (and failed) checkout attempts, as compactly as possible: sale and time as deltas from the
 * batch's first row, the outcome as a small number (about 20 bytes a row instead of 50: less for Node
 * to build and send, less for PostgreSQL to parse). They have no key: a batch retried after an
 * ambiguous commit could record them twice in that rare case.
 */
export async function writeRefusals(sql: Queryable, batch: readonly DropWrite[]): Promise<WriteResult[]> {
  const f = new ArrayColumns(5);
  let baseSale = 0;
  let baseAt = 0;
  for (const write of batch) {
    if (write.kind !== ATTEMPT || write.code !== null) {
      throw new Error('drops: writeRefusals takes refused or failed attempts only');
    }
    if (f.rows === 0) {
      baseSale = write.sale;
      baseAt = write.at;
    }
    f.row(
      write.sale - baseSale,
      write.user ?? 'NULL',
      write.item ?? 'NULL',
      OUTCOME_INDEX.get(write.outcome)!,
      write.at - baseAt,
    );
  }
  const results: WriteResult[] = new Array(batch.length).fill('ok');
  if (f.rows === 0) return results;
  await sql`
    insert into drop_checkout_attempts (sale, user_id, item, outcome, at)
    select ${baseSale}::int8 + sale_delta, user_id, item,
           case outcome when 1 then 'unavailable'::drop_checkout_outcome when 2 then 'user_limit'
                        when 0 then 'reserved'
                        when 3 then 'invalid' when 4 then 'failed' end,
           to_timestamp((${baseAt}::float8 + at_delta) / 1000)
    from unnest(${f.literal(0)}::int4[], ${f.literal(1)}::int8[], ${f.literal(2)}::int4[],
                ${f.literal(3)}::int2[], ${f.literal(4)}::int4[])
      as t(sale_delta, user_id, item, outcome, at_delta)`;
  return results;
}

/**
 * Reservations with their `reserved` attempt rows, and purchases with their `drop.purchased` events,
 * in one statement (data-modifying CTEs; either everything commits or nothing does).
 *
 * Idempotent, so a retry after an ambiguous commit neither fails nor sells twice: reservations skip codes
 * already there (and their attempt rows are written only with them); a purchase not inserted counts as
 * done if its code is already in `drop_purchases` (`already` sees the table as it was before the
 * statement, i.e. an earlier, committed attempt), else as a conflict (the item was sold to another code).
 */
export async function writeDurable(sql: Queryable, batch: readonly DropWrite[]): Promise<WriteResult[]> {
  const r = new ArrayColumns(6);
  const p = new ArrayColumns(5);
  const keys: string[] = [];
  const payloads: string[] = [];
  for (const write of batch) {
    if (write.kind === PURCHASE) {
      p.row(write.sale, write.item, write.user, write.code, write.at);
      const event = events.purchased(write.sale, write.item, write.user, write.code, write.at);
      keys.push(event.key!);
      payloads.push(JSON.stringify(event.payload));
    } else if (write.code !== null) {
      r.row(write.code, write.sale, write.item!, write.user!, write.at, write.expiresAt);
    } else {
      throw new Error('drops: writeDurable takes reservations and purchases only');
    }
  }
  const results: WriteResult[] = new Array(batch.length).fill('ok');
  if (r.rows === 0 && p.rows === 0) return results;
  const rows = await sql<{ code: string }[]>`
    with held as (
      insert into drop_reservations (code, sale, item, user_id, reserved_at, expires_at)
      select code, sale, item, user_id, to_timestamp(at_ms / 1000), to_timestamp(expires_ms / 1000)
      from unnest(${r.literal(0)}::uuid[], ${r.literal(1)}::int8[], ${r.literal(2)}::int4[],
                  ${r.literal(3)}::int8[], ${r.literal(4)}::float8[], ${r.literal(5)}::float8[])
        as t(code, sale, item, user_id, at_ms, expires_ms)
      on conflict (code) do nothing
      returning code, sale, item, user_id, reserved_at
    ), held_attempts as (
      insert into drop_checkout_attempts (sale, user_id, item, outcome, code, at)
      select sale, user_id, item, 'reserved', code, reserved_at from held
    ), wanted as (
      select * from unnest(${p.literal(0)}::int8[], ${p.literal(1)}::int4[], ${p.literal(2)}::int8[],
                           ${p.literal(3)}::uuid[], ${p.literal(4)}::float8[], ${keys}::text[],
                           ${payloads}::text[])
        as t(sale, item, user_id, code, at_ms, key, payload)
    ), bought as (
      insert into drop_purchases (sale, item, user_id, code, purchased_at)
      select sale, item, user_id, code, to_timestamp(at_ms / 1000) from wanted
      on conflict do nothing
      returning code
    ), announced as (
      -- The outbox row of each purchase that took effect, in its transaction (platform/outbox/publish.ts
      -- does the same for a transaction).
      insert into outbox_events (topic, key, payload)
      select ${events.Topics.purchased}, w.key, w.payload::jsonb
      from wanted w join bought b using (code)
    )
    select code::text from bought
    union all
    select code::text from drop_purchases where code in (select code from wanted)`;
  if (p.rows === 0) return results;
  const done = new Set(rows.map((row) => row.code));
  for (let i = 0; i < batch.length; i++) {
    const write = batch[i]!;
    if (write.kind === PURCHASE && !done.has(write.code)) results[i] = 'conflict';
  }
  return results;
}

/** Columns of an `unnest` insert, accumulated as PostgreSQL array literals (`{1,2,NULL}`). */
class ArrayColumns {
  readonly #columns: string[];
  rows = 0;

  constructor(width: number) {
    this.#columns = new Array<string>(width).fill('');
  }

  /** Values are digits, UUIDs or NULL: nothing that needs quoting in an array literal. */
  row(...values: (string | number)[]): void {
    const separator = this.rows === 0 ? '' : ',';
    for (let i = 0; i < values.length; i++) this.#columns[i] += separator + values[i];
    this.rows++;
  }

  /** Column `index` as an array literal. */
  literal(index: number): string {
    return `{${this.#columns[index]}}`;
  }
}

// ---- sales -------------------------------------------------------------------------------------------

export interface SaleRow {
  number: number;
  startsAt: number;
  endsAt: number;
  status: 'open' | 'closed';
}

export async function findSale(db: Queryable, number: number): Promise<SaleRow | undefined> {
  const [row] = await db<{ number: string; starts_at: Date; ends_at: Date; status: 'open' | 'closed' }[]>`
    select number, starts_at, ends_at, status from drop_sales where number = ${number}`;
  return row && toSale(row);
}

export async function latestSale(db: Queryable): Promise<SaleRow | undefined> {
  const [row] = await db<{ number: string; starts_at: Date; ends_at: Date; status: 'open' | 'closed' }[]>`
    select number, starts_at, ends_at, status from drop_sales order by number desc limit 1`;
  return row && toSale(row);
}

function toSale(row: { number: string; starts_at: Date; ends_at: Date; status: 'open' | 'closed' }): SaleRow {
  return {
    number: Number(row.number),
    startsAt: row.starts_at.getTime(),
    endsAt: row.ends_at.getTime(),
    status: row.status,
  };
}

/** Records that a sale opened, with its event, once: true if this call did it. */
export async function openSale(db: Sql, window: SaleWindow, items: number): Promise<boolean> {
  return db.begin(async (tx) => {
    const inserted = await tx`
      insert into drop_sales (number, starts_at, ends_at, items)
      values (${window.number}, ${new Date(window.startsAt)}, ${new Date(window.endsAt)}, ${items})
      on conflict (number) do nothing
      returning number`;
    if (inserted.length === 0) return false;
    await publish(tx, events.saleOpened(window, items));
    return true;
  });
}

/**
 * Closes every open sale numbered below `before`, counting its purchases, with one `drop.sale_closed`
 * event each; the conditional update makes that happen once however many processes try.
 */
export async function closeSalesBefore(db: Sql, before: number): Promise<number[]> {
  return db.begin(async (tx) => {
    const closed = await tx<
      { number: string; starts_at: Date; ends_at: Date; items: number; sold: number }[]
    >`
      update drop_sales s
      set status = 'closed', closed_at = now(),
          sold = (select count(*) from drop_purchases p where p.sale = s.number)
      where status = 'open' and number < ${before}
      returning number, starts_at, ends_at, items, sold`;
    if (closed.length > 0) {
      await publish(
        tx,
        ...closed.map((row) =>
          events.saleClosed(
            { number: Number(row.number), startsAt: row.starts_at.getTime(), endsAt: row.ends_at.getTime() },
            row.items,
            row.sold,
          ),
        ),
      );
    }
    return closed.map((row) => Number(row.number));
  });
}

// ---- recovery and reads ------------------------------------------------------------------------------

/** What the database knows about a sale's inventory at `now`: its purchases and live reservations. */
export async function loadSnapshot(db: Queryable, sale: number, now: number): Promise<SaleSnapshot> {
  const [purchases, reservations] = await Promise.all([
    db<{ code: string; item: number; user: string }[]>`
      select code::text, item, user_id::text as "user" from drop_purchases where sale = ${sale}`,
    db<{ code: string; item: number; user: string; expires_ms: number }[]>`
      select r.code::text, r.item, r.user_id::text as "user",
             (extract(epoch from r.expires_at) * 1000)::float8 as expires_ms
      from drop_reservations r
      where r.sale = ${sale} and r.expires_at > to_timestamp(${now}::float8 / 1000)
        and not exists (select 1 from drop_purchases p where p.code = r.code)
      order by r.reserved_at, r.code`,
  ]);
  return {
    purchases: purchases.map((p) => ({ code: p.code, item: p.item, user: p.user })),
    reservations: reservations.map((r) => ({
      code: r.code,
      item: r.item,
      user: r.user,
      expiresAt: Math.round(r.expires_ms),
    })),
  };
}

/** Item ids from `from` to `to - 1` sold in `sale`. */
export async function soldItems(db: Queryable, sale: number, from: number, to: number): Promise<Set<number>> {
  const rows = await db<{ item: number }[]>`
    select item from drop_purchases where sale = ${sale} and item >= ${from} and item < ${to}`;
  return new Set(rows.map((row) => row.item));
}
