import type postgres from 'postgres';
import type { Queryable } from '../platform/db/client.ts';
import { isTimeZone } from './contacts.ts';
import { notifyError } from './errors.ts';
import type { Channel } from './templates/index.ts';

/**
 * Segments (docs/notify.md, "Segments"): who a campaign or a schedule goes to, as a declarative filter
 * over the recipients (users left-joined with their contacts), never SQL from a caller. A segment is a
 * condition or a combinator:
 *
 *   {"all": [...]} | {"any": [...]} | {"not": {...}}
 *   {"country": ["RU", "KZ"]}      contact's country (ISO 3166-1 alpha-2)
 *   {"time_zone": ["Europe/Moscow"]} contact's zone ('UTC' without a contact)
 *   {"locale": ["ru", "en-GB"]}    'ru' also matches 'ru-RU'; 'en' without a contact
 *   {"active": true}               contact's flag, else the account's
 *   {"bought_event": 123 | [..]}   a paid booking for one of these events (booking module's `bookings`)
 *   {"bought_in_drop": true | n}   a drop purchase, in any sale or in sale n (drops module's `drop_purchases`)
 *   {"has_channel": "push"}        an address for the channel (email, phone, a push subscription)
 *   {"user_ids": [1, 2]}
 *
 * Parsed once into a tree, compiled into postgres.js fragments whose values are all parameters. Tables of
 * other modules are only read.
 */

export const MAX_DEPTH = 5;
export const MAX_CONDITIONS = 50;
export const MAX_LIST = 10_000;

export type Condition =
  | { field: 'country' | 'time_zone' | 'locale'; values: string[] }
  | { field: 'active'; value: boolean }
  | { field: 'bought_event'; events: number[] }
  | { field: 'bought_in_drop'; bought: boolean; sale: number | null }
  | { field: 'has_channel'; channel: Channel }
  | { field: 'user_ids'; ids: number[] };

export type Segment =
  | { op: 'all' | 'any'; of: Segment[] }
  | { op: 'not'; of: Segment }
  | { op: 'condition'; condition: Condition };

const COUNTRY = /^[A-Z]{2}$/;
const LOCALE = /^[a-z]{2,3}(-[A-Z]{2})?$/;
const CHANNELS = ['email', 'push', 'sms'];
const FIELDS = [
  'country',
  'time_zone',
  'locale',
  'active',
  'bought_event',
  'bought_in_drop',
  'has_channel',
  'user_ids',
];

const bad = (path: string, message: string) =>
  notifyError('NOTIFY_SEGMENT_INVALID', `segment${path}: ${message}`, { path: `segment${path}` });

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

function list<T>(value: unknown, path: string, check: (item: unknown) => item is T, what: string): T[] {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) throw bad(path, 'an empty list matches no one');
  if (items.length > MAX_LIST) throw bad(path, `at most ${MAX_LIST} values`);
  items.forEach((item, i) => {
    if (!check(item)) throw bad(Array.isArray(value) ? `${path}[${i}]` : path, `must be ${what}`);
  });
  return [...new Set(items as T[])];
}

function parseCondition(field: string, value: unknown, path: string): Condition {
  const at = `${path}.${field}`;
  switch (field) {
    case 'country':
      return {
        field,
        values: list(
          value,
          at,
          (v): v is string => typeof v === 'string' && COUNTRY.test(v),
          'ISO codes like "RU"',
        ),
      };
    case 'time_zone':
      return {
        field,
        values: list(
          value,
          at,
          (v): v is string => typeof v === 'string' && isTimeZone(v),
          'IANA time zones',
        ),
      };
    case 'locale':
      return {
        field,
        values: list(
          value,
          at,
          (v): v is string => typeof v === 'string' && LOCALE.test(v),
          'like "ru" or "ru-RU"',
        ),
      };
    case 'active':
      if (typeof value !== 'boolean') throw bad(at, 'must be true or false');
      return { field, value };
    case 'bought_event':
      return { field, events: list(value, at, isId, 'event ids (integers ≥ 1)') };
    case 'bought_in_drop':
      if (typeof value === 'boolean') return { field, bought: value, sale: null };
      if (Number.isSafeInteger(value) && (value as number) >= 0)
        return { field, bought: true, sale: value as number };
      throw bad(at, 'must be true, false or a sale number');
    case 'has_channel':
      if (typeof value !== 'string' || !CHANNELS.includes(value)) throw bad(at, 'must be email, push or sms');
      return { field, channel: value as Channel };
    case 'user_ids':
      return { field, ids: list(value, at, isId, 'user ids (integers ≥ 1)') };
    default:
      throw bad(at, `unknown condition (known: all, any, not, ${FIELDS.join(', ')})`);
  }
}

/** Checks and parses a segment; NOTIFY_SEGMENT_INVALID names the path of what is wrong. */
export function parseSegment(input: unknown): Segment {
  let conditions = 0;
  const walk = (node: unknown, path: string, depth: number): Segment => {
    if (typeof node !== 'object' || node === null || Array.isArray(node))
      throw bad(path, 'must be an object with one key: all, any, not or a condition');
    const keys = Object.keys(node);
    if (keys.length !== 1)
      throw bad(path, `must have exactly one key, has ${keys.length === 0 ? 'none' : keys.join(', ')}`);
    const key = keys[0]!;
    const value = (node as Record<string, unknown>)[key];
    if (key === 'all' || key === 'any' || key === 'not') {
      if (depth >= MAX_DEPTH) throw bad(`${path}.${key}`, `nested deeper than ${MAX_DEPTH} levels`);
      if (key === 'not') return { op: 'not', of: walk(value, `${path}.not`, depth + 1) };
      if (!Array.isArray(value) || value.length === 0)
        throw bad(`${path}.${key}`, 'must be a non-empty array');
      return { op: key, of: value.map((item, i) => walk(item, `${path}.${key}[${i}]`, depth + 1)) };
    }
    if (++conditions > MAX_CONDITIONS) throw bad(path, `more than ${MAX_CONDITIONS} conditions`);
    return { op: 'condition', condition: parseCondition(key, value, path) };
  };
  return walk(input, '', 0);
}

/** Back to the JSON form (what is stored and shown). */
export function segmentJson(segment: Segment): unknown {
  if (segment.op === 'not') return { not: segmentJson(segment.of) };
  if (segment.op !== 'condition') return { [segment.op]: segment.of.map(segmentJson) };
  const c = segment.condition;
  switch (c.field) {
    case 'country':
    case 'time_zone':
    case 'locale':
      return { [c.field]: c.values };
    case 'active':
      return { active: c.value };
    case 'bought_event':
      return { bought_event: c.events };
    case 'bought_in_drop':
      return { bought_in_drop: c.sale ?? c.bought };
    case 'has_channel':
      return { has_channel: c.channel };
    case 'user_ids':
      return { user_ids: c.ids };
  }
}

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/** One condition over `u` (users) and `c` (notify_contacts, left-joined). */
function conditionSql(sql: Queryable, c: Condition): Fragment {
  switch (c.field) {
    case 'country':
      return sql`c.country = any(${c.values}::text[])`;
    case 'time_zone':
      return sql`coalesce(c.time_zone, 'UTC') = any(${c.values}::text[])`;
    case 'locale':
      return sql`(coalesce(c.locale, 'en') = any(${c.values}::text[])
                  or split_part(coalesce(c.locale, 'en'), '-', 1) = any(${c.values}::text[]))`;
    case 'active':
      return sql`coalesce(c.active, u.is_active) = ${c.value}`;
    case 'bought_event':
      return sql`exists (select 1 from bookings b
                         where b.user_id = u.id and b.event_id = any(${c.events.map(String)}::bigint[])
                           and b.status = 'paid')`;
    case 'bought_in_drop': {
      const found =
        c.sale === null
          ? sql`exists (select 1 from drop_purchases p where p.user_id = u.id)`
          : sql`exists (select 1 from drop_purchases p where p.user_id = u.id and p.sale = ${String(c.sale)}::bigint)`;
      return c.bought ? found : sql`not ${found}`;
    }
    case 'has_channel':
      if (c.channel === 'email') return sql`coalesce(c.email, u.email) is not null`;
      if (c.channel === 'sms') return sql`c.phone is not null`;
      return sql`exists (select 1 from notify_push_subscriptions s where s.user_id = u.id)`;
    case 'user_ids':
      return sql`u.id = any(${c.ids.map(String)}::bigint[])`;
  }
}

/** The segment as a boolean SQL expression: fragments and parameters only, never spliced text. */
export function segmentSql(sql: Queryable, segment: Segment): Fragment {
  // Never null (a user without a contact has no country): `not` must see false, not unknown.
  if (segment.op === 'condition') return sql`coalesce(${conditionSql(sql, segment.condition)}, false)`;
  if (segment.op === 'not') return sql`not (${segmentSql(sql, segment.of)})`;
  const parts = segment.of.map((s) => segmentSql(sql, s));
  return segment.op === 'all'
    ? parts.slice(1).reduce((acc, p) => sql`${acc} and (${p})`, sql`(${parts[0]!})`)
    : parts.slice(1).reduce((acc, p) => sql`${acc} or (${p})`, sql`(${parts[0]!})`);
}

/** Members with ids above `afterUserId`, ascending, at most `limit`: keyset pages for fan-out. */
export async function segmentUserIds(
  sql: Queryable,
  segment: Segment,
  afterUserId: number,
  limit: number,
): Promise<number[]> {
  const rows = await sql<{ id: string }[]>`
    select u.id::text as id
    from users u left join notify_contacts c on c.user_id = u.id
    where u.id > ${afterUserId} and (${segmentSql(sql, segment)})
    order by u.id
    limit ${limit}`;
  return rows.map((row) => Number(row.id));
}

/**
 * How many users the segment holds now: an exact count, one pass over users and their contacts (the
 * conditions on other modules' tables are index lookups per user). Cheap at hundreds of thousands of
 * users; an estimate from statistics would be the next step beyond that.
 */
export async function estimateSegment(sql: Queryable, segment: Segment): Promise<number> {
  const [row] = await sql<{ n: string }[]>`
    select count(*)::text as n
    from users u left join notify_contacts c on c.user_id = u.id
    where ${segmentSql(sql, segment)}`;
  return Number(row!.n);
}
