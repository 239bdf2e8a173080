/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the one byte string a JSON value hashes as,
 * whoever serializes it. JCS is defined in terms of ECMAScript's own JSON serialization: strings
 * and numbers are written as `JSON.stringify` writes them (shortest round-trip numbers, minimal
 * escapes), and object members are sorted by the UTF-16 code units of their names, which is what
 * the default `Array.prototype.sort` compares. No whitespace anywhere.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`JCS cannot represent the number ${value}`);
      return JSON.stringify(value); // -0 becomes "0", as JCS requires
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
      const record = value as Record<string, unknown>;
      const members: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const member = record[key];
        if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
        members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`JCS cannot represent a value of type ${typeof value}`);
  }
}
