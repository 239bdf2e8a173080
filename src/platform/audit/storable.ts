/**
 * Text PostgreSQL refuses (NUL) or cannot encode (a lone UTF-16 surrogate) made storable, so an
 * audit entry about odd input (a client_id with a NUL in it) is written rather than failing the
 * transaction it belongs to. Applied before hashing, so the hash covers what is stored.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function storableText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

/** A JSON value (already plain: parsed from JSON) with every string and property name made storable. */
export function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) out[storableText(key)] = storableJson(member);
    return out;
  }
  return value;
}
