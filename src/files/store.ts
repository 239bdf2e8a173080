import type { Queryable, Sql, Tx } from '../platform/db/client.ts';
import type { AttrJson } from './attr.ts';
import type { Mode } from './modes.ts';

/** The files module's SQL, one function per statement. Only src/files uses these tables. */

export interface ElementRow {
  id: string;
  path: string;
  mode: Mode;
  configuredMode: Mode;
  capacityBytes: number;
}

export async function getElement(sql: Queryable, id: string): Promise<ElementRow | undefined> {
  const [row] = await sql<ElementRow[]>`
    select id, path, mode, configured_mode as "configuredMode", capacity_bytes::float8 as "capacityBytes"
    from storage_elements where id = ${id}`;
  return row;
}

export async function saveElement(sql: Queryable, element: ElementRow): Promise<void> {
  await sql`
    insert into storage_elements (id, path, mode, configured_mode, capacity_bytes)
    values (${element.id}, ${element.path}, ${element.mode}, ${element.configuredMode}, ${element.capacityBytes})
    on conflict (id) do update set
      path = excluded.path,
      mode = excluded.mode,
      configured_mode = excluded.configured_mode,
      capacity_bytes = excluded.capacity_bytes,
      mode_changed_at = case when storage_elements.mode = excluded.mode
        then storage_elements.mode_changed_at else now() end,
      registered_at = now()`;
}

/**
 * The element's mode under a share lock: a mode change (which takes the row for update) waits for
 * the uploads already committing, and every upload committing after it sees the new mode.
 */
export async function lockElementMode(tx: Tx, id: string): Promise<Mode | undefined> {
  const [row] = await tx<{ mode: Mode }[]>`select mode from storage_elements where id = ${id} for share`;
  return row?.mode;
}

export async function lockElementForUpdate(tx: Tx, id: string): Promise<ElementRow | undefined> {
  const [row] = await tx<ElementRow[]>`
    select id, path, mode, configured_mode as "configuredMode", capacity_bytes::float8 as "capacityBytes"
    from storage_elements where id = ${id} for update`;
  return row;
}

export async function setElementMode(tx: Tx, id: string, mode: Mode): Promise<void> {
  await tx`update storage_elements set mode = ${mode}, mode_changed_at = now() where id = ${id}`;
}

export async function elementUsage(
  sql: Queryable,
): Promise<Map<string, { usedBytes: number; files: number }>> {
  const rows = await sql<{ id: string; usedBytes: number; files: number }[]>`
    select storage_element_id as id, coalesce(sum(size_bytes), 0)::float8 as "usedBytes", count(*)::int as files
    from files group by storage_element_id`;
  return new Map(rows.map((r) => [r.id, { usedBytes: r.usedBytes, files: r.files }]));
}

export interface FileRow {
  fileId: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
  checksum: string;
  storageElementId: string;
  createdAt: Date;
  attr: AttrJson;
}

const fileColumns = (sql: Queryable) => sql`
  file_id::text as "fileId", filename, content_type as "contentType", size_bytes::float8 as "sizeBytes",
  checksum, storage_element_id as "storageElementId", created_at as "createdAt", attr`;

function values(attr: AttrJson) {
  const description = typeof attr.metadata.description === 'string' ? attr.metadata.description : null;
  const tags = Array.isArray(attr.metadata.tags) ? (attr.metadata.tags as string[]) : [];
  return { description, tags };
}

/** Inserts the cache row of a stored file; false when it was there already (replay, rebuild). */
export async function insertFile(sql: Queryable, attr: AttrJson): Promise<boolean> {
  const { description, tags } = values(attr);
  const rows = await sql`
    insert into files (file_id, filename, content_type, size_bytes, checksum, storage_element_id,
                       created_at, updated_at, description, tags, attr)
    values (${attr.file_id}, ${attr.filename}, ${attr.content_type}, ${attr.size_bytes}, ${attr.checksum},
            ${attr.storage_element_id}, ${attr.created_at}, ${attr.updated_at}, ${description}, ${tags}::text[],
            ${sql.json(attr as never)})
    on conflict (file_id) do nothing
    returning 1`;
  return rows.length > 0;
}

/** Rebuild: the row made equal to attr.json; 'inserted', 'updated' or 'same'. */
export async function upsertFile(sql: Queryable, attr: AttrJson): Promise<'inserted' | 'updated' | 'same'> {
  const { description, tags } = values(attr);
  const [row] = await sql<{ inserted: boolean }[]>`
    insert into files (file_id, filename, content_type, size_bytes, checksum, storage_element_id,
                       created_at, updated_at, description, tags, attr)
    values (${attr.file_id}, ${attr.filename}, ${attr.content_type}, ${attr.size_bytes}, ${attr.checksum},
            ${attr.storage_element_id}, ${attr.created_at}, ${attr.updated_at}, ${description}, ${tags}::text[],
            ${sql.json(attr as never)})
    on conflict (file_id) do update set
      filename = excluded.filename, content_type = excluded.content_type, size_bytes = excluded.size_bytes,
      checksum = excluded.checksum, storage_element_id = excluded.storage_element_id,
      created_at = excluded.created_at, updated_at = excluded.updated_at,
      description = excluded.description, tags = excluded.tags, attr = excluded.attr
    where files.attr is distinct from excluded.attr or files.storage_element_id is distinct from excluded.storage_element_id
    returning (xmax = 0) as inserted`;
  if (!row) return 'same';
  return row.inserted ? 'inserted' : 'updated';
}

export async function getFile(sql: Queryable, fileId: string): Promise<FileRow | undefined> {
  const [row] = await sql<FileRow[]>`select ${fileColumns(sql)} from files where file_id = ${fileId}`;
  return row;
}

export async function lockFile(tx: Tx, fileId: string): Promise<FileRow | undefined> {
  const [row] = await tx<
    FileRow[]
  >`select ${fileColumns(tx)} from files where file_id = ${fileId} for update`;
  return row;
}

export async function updateFileAttr(tx: Tx, attr: AttrJson): Promise<void> {
  const { description, tags } = values(attr);
  await tx`
    update files set description = ${description}, tags = ${tags}::text[], attr = ${tx.json(attr as never)},
      updated_at = ${attr.updated_at}
    where file_id = ${attr.file_id}`;
}

export async function deleteFile(sql: Queryable, fileId: string): Promise<boolean> {
  const rows = await sql`delete from files where file_id = ${fileId} returning 1`;
  return rows.length > 0;
}

/** Every cached file id of an element (files check, rebuild), in chunks. */
export async function* fileIdsOf(sql: Sql, elementId: string): AsyncGenerator<FileRow[]> {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await sql<FileRow[]>`
      select ${fileColumns(sql)} from files
      where storage_element_id = ${elementId} and file_id > ${after}
      order by file_id limit 1000`;
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1]!.fileId;
  }
}

export interface FileSearch {
  filename?: string | undefined;
  filenamePrefix?: string | undefined;
  contentType?: string | undefined;
  tag?: string | undefined;
  q?: string | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
  limit: number;
  offset: number;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * GET /api/files: every filter has its index (0060_files.sql). With `q` the best matches come
 * first (filename above tags above description), otherwise the newest. `total` counts all matches.
 */
export async function searchFiles(sql: Sql, search: FileSearch): Promise<{ rows: FileRow[]; total: number }> {
  const query =
    search.q === undefined ? undefined : search.q.replace(/[ёЁ]/g, (c) => (c === 'ё' ? 'е' : 'Е'));
  const conditions = [
    search.filename === undefined ? sql`` : sql`and filename = ${search.filename}`,
    search.filenamePrefix === undefined
      ? sql``
      : sql`and lower(filename) like ${`${escapeLike(search.filenamePrefix.toLowerCase())}%`}`,
    search.contentType === undefined ? sql`` : sql`and content_type = ${search.contentType}`,
    search.tag === undefined ? sql`` : sql`and tags @> array[${search.tag}]::text[]`,
    query === undefined ? sql`` : sql`and search @@ websearch_to_tsquery('russian', ${query})`,
    search.createdFrom === undefined ? sql`` : sql`and created_at >= ${search.createdFrom}`,
    search.createdTo === undefined ? sql`` : sql`and created_at < ${search.createdTo}`,
  ].reduce((all, condition) => sql`${all} ${condition}`);
  const order =
    query === undefined
      ? sql`order by created_at desc, file_id`
      : sql`order by ts_rank(search, websearch_to_tsquery('russian', ${query})) desc, created_at desc, file_id`;
  const rows = await sql<(FileRow & { total: number })[]>`
    select ${fileColumns(sql)}, count(*) over ()::int as total
    from files where true ${conditions}
    ${order}
    limit ${search.limit} offset ${search.offset}`;
  let total = rows[0]?.total ?? 0;
  if (rows.length === 0 && search.offset > 0) {
    const [count] = await sql<
      { total: number }[]
    >`select count(*)::int as total from files where true ${conditions}`;
    total = count?.total ?? 0;
  }
  return { rows, total };
}
