import type { EventRow } from '../types.ts';

/** The release's column order, for INSERT statements that list no columns. */
export const RELEASE_COLUMNS = ['id', 'title', 'description', 'type', 'datetime_start', 'provider'] as const;

const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * `2024-12-25T19:00:00`, `2024-12-25 19:00:00+03`, `2024-12-25T16:00:00.000Z`… as ISO 8601 in UTC.
 * A time without an offset is taken as UTC, as the release writes it.
 */
export function normaliseDatetime(value: string): string | undefined {
  const match = DATETIME.exec(value.trim());
  if (!match) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', zone = 'Z'] = match;
  let offset = zone.toUpperCase() === 'Z' ? 'Z' : zone;
  if (offset !== 'Z') {
    const digits = offset.replace(':', '');
    offset = `${digits.slice(0, 3)}:${digits.slice(3, 5) || '00'}`;
  }
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${fraction.slice(0, 4)}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  const date = new Date(ms);
  // Date.parse rolls 2024-02-30 over to March; refuse it instead.
  if (offset === 'Z' && (date.getUTCDate() !== Number(d) || date.getUTCMonth() + 1 !== Number(mo)))
    return undefined;
  const year = date.getUTCFullYear();
  if (year < 1900 || year > 2999) return undefined;
  return date.toISOString();
}

/**
 * One release record as an EventRow, or a message saying what is wrong with it. `id` may be a number or
 * a string of digits; `description` may be missing or null.
 */
export function toEventRow(record: Record<string, unknown>): EventRow | string {
  const id = typeof record.id === 'string' && /^\d{1,15}$/.test(record.id) ? Number(record.id) : record.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1)
    return `id must be a positive integer, got ${JSON.stringify(record.id)}`;
  const text = (field: string, max: number, optional = false): string | null | undefined => {
    const value = record[field];
    if ((value === null || value === undefined) && optional) return null;
    if (typeof value !== 'string' || (!optional && value.trim() === '') || value.length > max)
      return undefined;
    return value;
  };
  const title = text('title', 1000);
  if (!title) return `event ${id}: title must be a non-empty string of at most 1000 characters`;
  const description = text('description', 10_000, true);
  if (description === undefined) return `event ${id}: description must be a string or null`;
  const type = text('type', 64);
  if (!type) return `event ${id}: type must be a non-empty string`;
  const provider = text('provider', 64);
  if (!provider) return `event ${id}: provider must be a non-empty string`;
  const start =
    typeof record.datetime_start === 'string' ? normaliseDatetime(record.datetime_start) : undefined;
  if (!start) {
    return `event ${id}: datetime_start must be an ISO date and time from 1900 to 2999, got ${JSON.stringify(record.datetime_start)}`;
  }
  return { id, title, description, type, provider, datetimeStart: start };
}
