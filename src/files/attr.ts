import type { StoredFile } from './api.ts';

/**
 * `attr.json`, one beside each file: the source of truth for its metadata (seed 002). The
 * database holds a copy for search; `files rebuild` restores it from these.
 */
export interface AttrJson {
  file_id: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  checksum: string;
  storage_element_id: string;
  created_at: string;
  updated_at: string;
  /** description, tags and any string fields the uploader gave. */
  metadata: FileMetadata;
}

export type FileMetadata = Record<string, unknown> & { description?: string; tags?: string[] };

export const METADATA_LIMITS = {
  fields: 50,
  keyPattern: /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/,
  valueLength: 4000,
  tags: 50,
  tagLength: 100,
};

/**
 * Checks metadata from a client: `description` a string, `tags` an array of strings, every other
 * field a string. `null` (PATCH only) removes a field. Throws a message naming the field.
 */
export function checkMetadata(input: unknown, options: { allowNull: boolean }): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new TypeError('metadata must be a JSON object');
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > METADATA_LIMITS.fields)
    throw new TypeError(`metadata has ${entries.length} fields; at most ${METADATA_LIMITS.fields}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    if (!METADATA_LIMITS.keyPattern.test(key))
      throw new TypeError(
        `metadata field name "${key.slice(0, 70)}" must match ${METADATA_LIMITS.keyPattern.source}`,
      );
    if (value === null && options.allowNull) {
      out[key] = null;
    } else if (key === 'tags') {
      if (!Array.isArray(value) || value.some((t) => typeof t !== 'string'))
        throw new TypeError('metadata.tags must be an array of strings');
      if (value.length > METADATA_LIMITS.tags)
        throw new TypeError(`metadata.tags: at most ${METADATA_LIMITS.tags} tags`);
      const tags = [...new Set((value as string[]).map((t) => t.trim()).filter((t) => t.length > 0))];
      if (tags.some((t) => t.length > METADATA_LIMITS.tagLength))
        throw new TypeError(`metadata.tags: a tag is at most ${METADATA_LIMITS.tagLength} characters`);
      out.tags = tags;
    } else if (typeof value !== 'string') {
      throw new TypeError(`metadata.${key} must be a string`);
    } else if (value.length > METADATA_LIMITS.valueLength) {
      throw new TypeError(`metadata.${key} is longer than ${METADATA_LIMITS.valueLength} characters`);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Applies a PATCH: given fields replace, null removes. */
export function mergeMetadata(current: FileMetadata, patch: Record<string, unknown>): FileMetadata {
  const next: FileMetadata = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

export function serializeAttr(attr: AttrJson): string {
  return `${JSON.stringify(attr, null, 2)}\n`;
}

const CHECKSUM = /^sha256:[0-9a-f]{64}$/;

/** Parses an attr.json; throws when it is not one (truncated, not JSON, a field missing). */
export function parseAttr(text: string): AttrJson {
  const value = JSON.parse(text) as Partial<AttrJson>;
  const problems: string[] = [];
  if (typeof value.file_id !== 'string') problems.push('file_id');
  if (typeof value.filename !== 'string') problems.push('filename');
  if (typeof value.content_type !== 'string') problems.push('content_type');
  if (!Number.isSafeInteger(value.size_bytes) || (value.size_bytes as number) < 0)
    problems.push('size_bytes');
  if (typeof value.checksum !== 'string' || !CHECKSUM.test(value.checksum)) problems.push('checksum');
  if (typeof value.storage_element_id !== 'string') problems.push('storage_element_id');
  if (typeof value.created_at !== 'string' || Number.isNaN(Date.parse(value.created_at)))
    problems.push('created_at');
  if (problems.length > 0) throw new Error(`attr.json lacks or has a bad ${problems.join(', ')}`);
  const metadata =
    typeof value.metadata === 'object' && value.metadata !== null && !Array.isArray(value.metadata)
      ? (value.metadata as FileMetadata)
      : {};
  return { ...(value as AttrJson), updated_at: value.updated_at ?? value.created_at!, metadata };
}

export function storedFileOf(attr: AttrJson): StoredFile {
  return {
    fileId: attr.file_id,
    filename: attr.filename,
    contentType: attr.content_type,
    sizeBytes: attr.size_bytes,
    checksum: attr.checksum,
    storageElementId: attr.storage_element_id,
    createdAt: attr.created_at,
    metadata: attr.metadata,
  };
}
