import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Queryable, Sql, Tx } from '../platform/db/client.ts';
import type { EventRow, EventSummary } from './types.ts';

/**
 * All SQL of the catalog. Its tables (migrations/0020_catalog.sql) are private to this module:
 * `catalog_events` (partitioned by year of `datetime_start`) and `catalog_event_ids` (the id directory).
 */

// ---------------------------------------------------------------------------------------------------
// Reads for other modules

export async function getEvent(db: Queryable, id: number): Promise<EventSummary | undefined> {
  const [row] = await db<
    { id: string; title: string; datetime_start: Date; provider: string; type: string }[]
  >`
    select e.id, e.title, e.datetime_start, e.provider, e.type
    from catalog_event_ids d
    join catalog_events e on e.id = d.id and e.datetime_start = d.datetime_start
    where d.id = ${id}`;
  if (!row) return undefined;
  return {
    id: Number(row.id),
    title: row.title,
    datetimeStart: row.datetime_start,
    provider: row.provider,
    type: row.type,
  };
}

export async function hasEvents(db: Queryable): Promise<boolean> {
  const [row] = await db<{ any: boolean }[]>`select exists (select 1 from catalog_event_ids) as any`;
  return row?.any ?? false;
}

// ---------------------------------------------------------------------------------------------------
// Single-event writes (the service wraps them in a transaction with the outbox event)

export interface EventInput {
  id?: number | undefined;
  title: string;
  description: string | null;
  type: string;
  provider: string;
  datetimeStart: Date;
}

/** Creates the year partitions if missing; in its own transaction (see the migration). */
export async function ensurePartitions(db: Sql, years: Iterable<number>): Promise<void> {
  const list = [...new Set(years)].sort();
  if (list.length > 0) await db`select catalog_ensure_partitions(${list}::int[])`;
}

/** Inserts the directory entry (taking the id from the sequence when none is given), then the event. */
export async function insertEvent(tx: Tx, input: EventInput): Promise<number> {
  const [entry] =
    input.id === undefined
      ? await tx<{ id: string }[]>`
          insert into catalog_event_ids (datetime_start) values (${input.datetimeStart}) returning id`
      : await tx<{ id: string }[]>`
          insert into catalog_event_ids (id, datetime_start) values (${input.id}, ${input.datetimeStart})
          returning id`;
  const id = Number(entry!.id);
  await tx`
    insert into catalog_events (id, title, description, type, provider, datetime_start)
    values (${id}, ${input.title}, ${input.description}, ${input.type}, ${input.provider}, ${input.datetimeStart})`;
  return id;
}

export interface EventPatch {
  title?: string | undefined;
  description?: string | null | undefined;
  type?: string | undefined;
  provider?: string | undefined;
  datetimeStart?: Date | undefined;
}

/** Locks the directory row, applies the patch (a new date moves the row to its partition). */
export async function updateEvent(tx: Tx, id: number, patch: EventPatch): Promise<EventRow | undefined> {
  const [entry] = await tx<{ datetime_start: Date }[]>`
    select datetime_start from catalog_event_ids where id = ${id} for update`;
  if (!entry) return undefined;
  const [row] = await tx<
    {
      id: string;
      title: string;
      description: string | null;
      type: string;
      provider: string;
      datetime_start: Date;
    }[]
  >`
    update catalog_events set
      title = coalesce(${patch.title ?? null}, title),
      description = case when ${patch.description !== undefined} then ${patch.description ?? null} else description end,
      type = coalesce(${patch.type ?? null}, type),
      provider = coalesce(${patch.provider ?? null}, provider),
      datetime_start = coalesce(${patch.datetimeStart ?? null}::timestamptz, datetime_start)
    where id = ${id} and datetime_start = ${entry.datetime_start}
    returning id, title, description, type, provider, datetime_start`;
  if (!row) return undefined;
  if (patch.datetimeStart) {
    await tx`update catalog_event_ids set datetime_start = ${row.datetime_start} where id = ${id}`;
  }
  return {
    id: Number(row.id),
    title: row.title,
    description: row.description,
    type: row.type,
    provider: row.provider,
    datetimeStart: row.datetime_start.toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------------
// Search

/** The years that have a partition, newest first. */
export async function partitionYears(db: Queryable): Promise<number[]> {
  const rows = await db<{ name: string }[]>`
    select c.relname as name
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'catalog_events'::regclass`;
  return rows
    .map((row) => /^catalog_events_y(\d{4})$/.exec(row.name)?.[1])
    .filter((year): year is string => year !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
}

/** A time range searched as one unit, `[from, to)` as ISO strings or ±infinity. */
export interface Window {
  from: string;
  to: string;
}

export interface PageResult {
  count: number;
  /** The events as a JSON array, built by PostgreSQL in the response's field order. */
  events: string;
}

const EVENT_JSON = `json_build_object(
      'id', id, 'title', title, 'description', description, 'type', type,
      'datetime_start', to_char(datetime_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'provider', provider)`;

const BOUND = /^(-?infinity|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z)$/;

/**
 * Full-text search over a bounded candidate set (docs/catalog.md, "Ranking"). Each window is its own
 * branch of a UNION ALL with literal bounds, so the planner prunes it to its partitions and sees how
 * wide it is; the branches run newest window first and stop once `candidates` rows matched. Candidates
 * are ranked in blocks of `block` rows in the order they were found, so a page never depends on how
 * deep the caller paginates.
 *
 * Made for custom plans (the search pool sets plan_cache_mode = force_custom_plan): with the actual
 * words and dates the planner reads a frequent word's partition sequentially until it has enough rows,
 * a rare word through the GIN index, and one day through the start-time index. A generic plan would
 * build the whole bitmap of a frequent word (measured: 3× slower on average over the benchmark phrases).
 *
 * `narrow` (a range of a day or two): the match is written as a function call, which no index serves, so
 * the day is read through the start-time index and its few thousand rows are matched one by one. Left to
 * itself the planner ANDs that with the GIN bitmap of the words, and for a frequent word building that
 * bitmap costs several times more than the whole day (measured: 13 ms against 2 ms for `концерт`).
 * Parameters: text, from, to, type, provider, candidates, block, offset, limit.
 */
export function searchSql(windows: readonly Window[], narrow = false): string {
  const query = "websearch_to_tsquery('russian', $1::text)";
  const match = narrow ? `ts_match_vq(search, ${query})` : `search @@ ${query}`;
  const branches = windows.map((window) => {
    if (!BOUND.test(window.from) || !BOUND.test(window.to)) throw new Error(`bad window ${window.from}`);
    return `(select id, title, description, type, provider, datetime_start, ts_rank(search, ${query}) as rank
      from catalog_events
      where ${match}
        -- A query of exclusions only ('-концерт') would match nearly everything through a full index scan.
        and querytree(${query}) <> 'T'
        and datetime_start >= '${window.from}' and datetime_start < '${window.to}'
        and datetime_start >= $2::text::timestamptz and datetime_start < $3::text::timestamptz
        and ($4::text is null or type = $4::text)
        and ($5::text is null or provider = $5::text)
      limit $6::int)`;
  });
  return `
    with candidates as (
      select c.*, row_number() over () as seq
      from (select * from (${branches.join('\n      union all ')}) branches limit $6::int) c
    ), ranked as (
      select *, row_number() over (
        order by (seq - 1) / $7::int, rank desc, datetime_start desc, id) as ord
      from candidates
    )
    select count(*)::int as count, coalesce(json_agg(${EVENT_JSON} order by ord), '[]'::json)::text as events
    from (select * from ranked order by ord offset $8::int limit $9::int) page`;
}

export interface SearchParams {
  text: string;
  /** The request's range as ISO instants, or -infinity / infinity. */
  from: string;
  to: string;
  type: string | null;
  provider: string | null;
  /** The range is a day or two: see searchSql. */
  narrow: boolean;
  candidates: number;
  block: number;
  offset: number;
  limit: number;
}

export async function search(db: Sql, windows: readonly Window[], p: SearchParams): Promise<PageResult> {
  if (windows.length === 0) return { count: 0, events: '[]' };
  const [row] = await db.unsafe<PageResult[]>(
    searchSql(windows, p.narrow),
    [p.text, p.from, p.to, p.type, p.provider, p.candidates, p.block, p.offset, p.limit],
    { prepare: true },
  );
  return row!;
}

export interface ListParams {
  from: string;
  to: string;
  type: string | null;
  provider: string | null;
  offset: number;
  limit: number;
}

/** Events in `[from, to)` by start time (no text query). */
export async function list(db: Sql, p: ListParams): Promise<PageResult> {
  const [row] = await db<PageResult[]>`
    select count(*)::int as count,
      coalesce(json_agg(${db.unsafe(EVENT_JSON)} order by datetime_start, id), '[]'::json)::text as events
    from (
      select id, title, description, type, provider, datetime_start
      from catalog_events
      where datetime_start >= ${p.from}::text::timestamptz and datetime_start < ${p.to}::text::timestamptz
        and (${p.type}::text is null or type = ${p.type}::text)
        and (${p.provider}::text is null or provider = ${p.provider}::text)
      order by datetime_start, id
      offset ${p.offset} limit ${p.limit}
    ) page`;
  return row!;
}

// ---------------------------------------------------------------------------------------------------
// Bulk loading (seed and import)

/** How many ids of `[first, last]` the directory has, per block of `blockSize` ids from `first`. */
export async function countByBlock(
  db: Queryable,
  first: number,
  last: number,
  blockSize: number,
): Promise<Map<number, number>> {
  const rows = await db<{ block: number; count: number }[]>`
    select ((id - ${first}) / ${blockSize})::int as block, count(*)::int as count
    from catalog_event_ids
    where id between ${first} and ${last}
    group by 1`;
  return new Map(rows.map((row) => [row.block, row.count]));
}

export async function countEvents(db: Queryable): Promise<number> {
  const [row] = await db<{ count: number }[]>`select count(*)::int as count from catalog_event_ids`;
  return row?.count ?? 0;
}

const COLUMNS = 'id, title, description, type, provider, datetime_start';

/** COPY FROM STDIN text format: backslash, tab, newline and carriage return escaped, \N for NULL. */
function copyField(value: string | null): string {
  if (value === null) return '\\N';
  return /[\\\t\n\r]/.test(value)
    ? value.replace(/[\\\t\n\r]/g, (c) =>
        c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
      )
    : value;
}

function* copyChunks(rows: readonly EventRow[], line: (row: EventRow) => string): Generator<string> {
  const CHUNK = 2_000;
  for (let start = 0; start < rows.length; start += CHUNK) {
    let text = '';
    const end = Math.min(rows.length, start + CHUNK);
    for (let i = start; i < end; i++) text += line(rows[i]!);
    yield text;
  }
}

const eventLine = (row: EventRow) =>
  `${row.id}\t${copyField(row.title)}\t${copyField(row.description)}\t${copyField(row.type)}\t${copyField(row.provider)}\t${row.datetimeStart}\n`;
const idLine = (row: EventRow) => `${row.id}\t${row.datetimeStart}\n`;

async function copyInto(tx: Tx, target: string, rows: readonly EventRow[], line: (row: EventRow) => string) {
  const writable = await tx.unsafe(`copy ${target} from stdin`).writable();
  await pipeline(Readable.from(copyChunks(rows, line)), writable);
}

/**
 * Loads rows whose ids are known to be absent: COPY into the directory and the events table. A
 * duplicate id fails the whole transaction with a unique violation (the caller then merges instead).
 */
export async function copyNewEvents(tx: Tx, rows: readonly EventRow[]): Promise<number> {
  await copyInto(tx, 'catalog_event_ids (id, datetime_start)', rows, idLine);
  await copyInto(tx, `catalog_events (${COLUMNS})`, rows, eventLine);
  return rows.length;
}

/**
 * Loads rows some of which may exist already (a re-run import, a partly seeded block): COPY into a
 * temporary table, then insert the ids the directory does not have. Returns how many were new.
 */
export async function mergeEvents(tx: Tx, rows: readonly EventRow[]): Promise<number> {
  await tx`
    create temporary table catalog_staging (
      id bigint, title text, description text, type text, provider text, datetime_start timestamptz
    ) on commit drop`;
  await copyInto(tx, `catalog_staging (${COLUMNS})`, rows, eventLine);
  const [result] = await tx<{ count: number }[]>`
    with fresh as (
      insert into catalog_event_ids (id, datetime_start)
      select distinct on (id) id, datetime_start from catalog_staging order by id
      on conflict (id) do nothing
      returning id, datetime_start
    ), inserted as (
      insert into catalog_events (${tx.unsafe(COLUMNS)})
      select distinct on (s.id) s.id, s.title, s.description, s.type, s.provider, s.datetime_start
      from catalog_staging s join fresh f on f.id = s.id and f.datetime_start = s.datetime_start
      order by s.id
      returning 1
    )
    select count(*)::int as count from inserted`;
  return result?.count ?? 0;
}

/** Wakes the API processes so they drop cached results (the trigger does it for row changes). */
export async function notifyChanged(db: Queryable): Promise<void> {
  await db`select pg_notify('catalog_events_changed', '')`;
}

// ---------------------------------------------------------------------------------------------------
// The search index around bulk loads

/** Drops the GIN index of every partition (one statement: it briefly locks the table). */
export async function dropSearchIndex(db: Queryable): Promise<void> {
  await db`drop index if exists catalog_events_search_idx`;
}

/** Partitions whose search index is missing (never built, or dropped for a bulk load). */
export async function partitionsWithoutSearchIndex(db: Queryable): Promise<string[]> {
  const rows = await db<{ name: string }[]>`
    select c.relname as name
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'catalog_events'::regclass
      and not exists (
        select 1
        from pg_inherits ii join pg_index x on x.indexrelid = ii.inhrelid
        where ii.inhparent = to_regclass('catalog_events_search_idx') and x.indrelid = c.oid)
    order by 1`;
  return rows.map((row) => row.name);
}

/** The parent index, created on the parent alone: invalid until every partition's index is attached. */
export async function createParentSearchIndex(db: Queryable): Promise<void> {
  await db`
    create index if not exists catalog_events_search_idx on only catalog_events
    using gin (search) with (fastupdate = off)`;
}

/** Builds one partition's GIN index and attaches it to the parent index. */
export async function buildPartitionSearchIndex(db: Queryable, partition: string): Promise<void> {
  if (!/^catalog_events_y\d{4}$/.test(partition)) throw new Error(`not a catalog partition: ${partition}`);
  await db.unsafe(
    `create index if not exists ${partition}_search_idx on ${partition} using gin (search) with (fastupdate = off)`,
  );
  await db.unsafe(`alter index catalog_events_search_idx attach partition ${partition}_search_idx`);
}

export async function analyzeEvents(db: Sql, vacuum: boolean): Promise<void> {
  // VACUUM sets the visibility map and hint bits once, instead of the first searches doing it.
  if (vacuum) await db.unsafe('vacuum (analyze) catalog_events, catalog_event_ids');
  else await db.unsafe('analyze catalog_events, catalog_event_ids');
}
