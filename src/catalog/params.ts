import { AppError } from '../platform/http/errors.ts';

/** The query string of `GET /api/events` and `GET /api/events/search`, after schema validation. */
export interface EventsQuery {
  query?: string | undefined;
  q?: string | undefined;
  date?: string | undefined;
  date_from?: string | undefined;
  date_to?: string | undefined;
  type?: string | undefined;
  provider?: string | undefined;
  page?: number | undefined;
  pageSize?: number | undefined;
}

/** A validated, normalised request: what the cache key and the SQL are made from. */
export interface SearchRequest {
  /** Whitespace collapsed, ё folded to е; undefined for a plain listing. */
  text: string | undefined;
  /** Start of the time range (ms, inclusive); undefined for unbounded. */
  from: number | undefined;
  /** End of the time range (ms, exclusive); undefined for unbounded. */
  to: number | undefined;
  type: string | undefined;
  provider: string | undefined;
  page: number;
  pageSize: number;
}

export const QUERY_MAX_LENGTH = 200;
export const PAGE_SIZE_MAX = 20;
export const PAGE_SIZE_DEFAULT = 20;
/** The deepest result a client can page to (page × pageSize), as search engines cap it. */
export const RESULT_WINDOW_MAX = 10_000;

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function invalid(message: string, field: string): AppError {
  return new AppError('VALIDATION_FAILED', 400, message, { field });
}

/** `YYYY-MM-DD` as the start of that UTC day, refusing impossible dates like 2024-02-30. */
export function parseDate(value: string, field: string): number {
  const match = DATE.exec(value);
  if (!match) throw invalid(`${field} must be a date in YYYY-MM-DD form, got "${value}"`, field);
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  const check = new Date(ms);
  if (
    year < 1900 ||
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day
  ) {
    throw invalid(`${field} must be a real calendar date from 1900 on, got "${value}"`, field);
  }
  return ms;
}

/** ё and Ё as е and Е, as the search vectors store them. */
export function foldYo(text: string): string {
  return text.includes('ё') || text.includes('Ё') ? text.replaceAll('ё', 'е').replaceAll('Ё', 'Е') : text;
}

/**
 * Turns the validated query string into a SearchRequest; throws 400 AppErrors for what the schema
 * cannot express (real dates, date order, how deep pages go, `query` and `q` at once).
 * Without a text query or dates, the listing covers the current events: the last three months and
 * everything upcoming, counted from the start of today (UTC) so that a day's answers cache well.
 */
export function parseEventsQuery(query: EventsQuery, now: number): SearchRequest {
  if (query.query !== undefined && query.q !== undefined && query.query !== query.q) {
    throw invalid('give the search text as query or as q, not both', 'q');
  }
  const raw = query.query ?? query.q;
  const text = raw === undefined ? '' : foldYo(raw.trim().replace(/\s+/g, ' '));

  let from: number | undefined;
  let to: number | undefined;
  if (query.date !== undefined) {
    from = parseDate(query.date, 'date');
    to = from + DAY_MS;
  }
  if (query.date_from !== undefined || query.date_to !== undefined) {
    const lower = query.date_from === undefined ? undefined : parseDate(query.date_from, 'date_from');
    const upper = query.date_to === undefined ? undefined : parseDate(query.date_to, 'date_to') + DAY_MS;
    if (lower !== undefined && upper !== undefined && lower >= upper) {
      throw invalid(`date_from (${query.date_from}) is after date_to (${query.date_to})`, 'date_from');
    }
    // With `date` as well, the range is what both allow (possibly nothing).
    if (lower !== undefined) from = from === undefined ? lower : Math.max(from, lower);
    if (upper !== undefined) to = to === undefined ? upper : Math.min(to, upper);
  }
  if (!text && from === undefined && to === undefined) from = currentFrom(now);

  const page = query.page ?? 1;
  const pageSize = query.pageSize ?? PAGE_SIZE_DEFAULT;
  if (page * pageSize > RESULT_WINDOW_MAX) {
    throw invalid(
      `page × pageSize must be at most ${RESULT_WINDOW_MAX} (got ${page} × ${pageSize}); narrow the search instead`,
      'page',
    );
  }
  return {
    text: text || undefined,
    from,
    to,
    type: query.type?.toLowerCase(),
    provider: query.provider,
    page,
    pageSize,
  };
}

/** Start of the "current" events: three calendar months before the start of today (UTC). */
export function currentFrom(now: number): number {
  const today = new Date(Math.floor(now / DAY_MS) * DAY_MS);
  return Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 3, today.getUTCDate());
}

/** The cache key of a request: every field that changes the answer, unambiguously. */
export function cacheKey(request: SearchRequest): string {
  return JSON.stringify([
    request.text ?? null,
    request.from ?? null,
    request.to ?? null,
    request.type ?? null,
    request.provider ?? null,
    request.page,
    request.pageSize,
  ]);
}
