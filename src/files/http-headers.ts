/**
 * Header grammar the files routes need: Content-Disposition both ways (RFC 6266 with RFC 8187
 * `filename*` for non-ASCII names such as Russian ones), Content-Digest (RFC 9530) and ETags.
 */

/** `attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded` */
export function contentDisposition(filename: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  if (fallback === filename) return `${type}; filename="${fallback}"`;
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * The filename of a raw upload's Content-Disposition: `filename*` (RFC 8187, UTF-8) wins over
 * `filename` (a quoted string, read as UTF-8). Undefined when neither is there or it is malformed.
 */
export function filenameFromDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /(?:^|;)\s*filename\*\s*=\s*([^;]+)/i.exec(header);
  if (star) {
    const match = /^(UTF-8|ISO-8859-1)'[^']*'(.+)$/i.exec(star[1]!.trim());
    if (match) {
      try {
        const bytes = decodeURIComponent(match[2]!.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
        return match[1]!.toUpperCase() === 'UTF-8' ? bytes : Buffer.from(bytes, 'latin1').toString('latin1');
      } catch {
        return undefined;
      }
    }
  }
  const quoted = /(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted) return Buffer.from(quoted[1]!.replace(/\\(.)/g, '$1'), 'latin1').toString('utf8');
  const token = /(?:^|;)\s*filename\s*=\s*([^";\s]+)/i.exec(header);
  return token ? token[1] : undefined;
}

/**
 * The base64 SHA-256 of `Content-Digest: sha-256=:<base64>:` (other algorithms beside it are
 * ignored). Undefined when there is no sha-256 member; throws on a malformed one.
 */
export function sha256FromContentDigest(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const member of header.split(',')) {
    const [key, ...rest] = member.split('=');
    if (key?.trim().toLowerCase() !== 'sha-256') continue;
    const value = rest.join('=').trim();
    const match = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(value);
    if (!match || Buffer.from(match[1]!, 'base64').length !== 32)
      throw new TypeError('Content-Digest sha-256 must be :<base64 of 32 bytes>: (RFC 9530)');
    return Buffer.from(match[1]!, 'base64').toString('base64');
  }
  return undefined;
}

/** If-None-Match against an ETag: `*` or any listed tag, compared weakly (RFC 9110 13.1.2). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => strip(tag) === etag);
}

export type RangeAnswer =
  /** No Range, a malformed one, another unit, or several ranges: the whole file (RFC 9110 allows ignoring Range). */
  { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

const RANGE_SPEC = /^(?:(\d+)-(\d*)|-(\d+))$/;

/**
 * `Range: bytes=…` by RFC 9110 14.1.2: `a-b` (b cut at the end), `a-`, `-n` (the last n bytes;
 * the whole file when n exceeds it, which range-parser gets wrong), a range starting at or past
 * the end, or `-0`, is unsatisfiable. Overlapping or adjacent ranges are merged; several disjoint
 * ones are answered with the whole file.
 */
export function parseRange(size: number, header: string): RangeAnswer {
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match) return { kind: 'whole' };
  const ranges: { start: number; end: number }[] = [];
  for (const raw of match[1]!.split(',')) {
    const spec = raw.trim();
    if (spec === '') continue;
    const parts = RANGE_SPEC.exec(spec);
    if (!parts) return { kind: 'whole' };
    if (parts[3] !== undefined) {
      const length = Number(parts[3]);
      if (length > 0 && size > 0) ranges.push({ start: Math.max(0, size - length), end: size - 1 });
      continue;
    }
    const start = Number(parts[1]);
    const end = parts[2] === '' ? Number.POSITIVE_INFINITY : Number(parts[2]);
    if (end < start) return { kind: 'whole' }; // invalid: the header is ignored
    if (start < size) ranges.push({ start, end: Math.min(end, size - 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  ranges.sort((a, b) => a.start - b.start);
  const merged = [ranges[0]!];
  for (const range of ranges.slice(1)) {
    const last = merged[merged.length - 1]!;
    if (range.start <= last.end + 1) last.end = Math.max(last.end, range.end);
    else merged.push(range);
  }
  return merged.length === 1 ? { kind: 'partial', ...merged[0]! } : { kind: 'whole' };
}
