import { describe, expect, it } from 'vitest';
import { cacheKey, currentFrom, parseEventsQuery } from '../../src/catalog/params.ts';
import { searchWindows } from '../../src/catalog/search.ts';

const NOW = Date.parse('2026-11-21T15:30:00Z');
const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);

describe('parseEventsQuery', () => {
  it('lists the current events by default: from three months before today', () => {
    expect(parseEventsQuery({}, NOW)).toEqual({
      text: undefined,
      from: day('2026-08-21'),
      to: undefined,
      type: undefined,
      provider: undefined,
      page: 1,
      pageSize: 20,
    });
    expect(currentFrom(Date.parse('2026-05-31T23:59:59Z'))).toBe(day('2026-03-03'));
  });

  it('normalises the text (spaces, ё) and searches all time unless dates are given', () => {
    const request = parseEventsQuery({ q: '  Звёздные\t  войны ' }, NOW);
    expect(request).toMatchObject({ text: 'Звездные войны', from: undefined, to: undefined });
    expect(parseEventsQuery({ query: '   ' }, NOW).text).toBeUndefined();
  });

  it('turns date, date_from and date_to into one UTC range, intersected', () => {
    expect(parseEventsQuery({ date: '2024-12-25' }, NOW)).toMatchObject({
      from: day('2024-12-25'),
      to: day('2024-12-26'),
    });
    expect(parseEventsQuery({ date_from: '2024-12-01', date_to: '2024-12-31' }, NOW)).toMatchObject({
      from: day('2024-12-01'),
      to: day('2025-01-01'),
    });
    expect(parseEventsQuery({ date_to: '2024-12-31' }, NOW)).toMatchObject({
      from: undefined,
      to: day('2025-01-01'),
    });
    expect(parseEventsQuery({ date: '2024-12-25', date_from: '2024-12-20' }, NOW)).toMatchObject({
      from: day('2024-12-25'),
      to: day('2024-12-26'),
    });
    // One day is a valid range.
    expect(parseEventsQuery({ date_from: '2024-12-25', date_to: '2024-12-25' }, NOW).to).toBe(
      day('2024-12-26'),
    );
  });

  it('keys the cache on everything that changes the answer', () => {
    const base = parseEventsQuery({ query: 'концерт' }, NOW);
    const keys = new Set(
      [
        base,
        { ...base, page: 2 },
        { ...base, pageSize: 10 },
        { ...base, type: 'film' },
        { ...base, provider: 'TicketRu' },
        { ...base, from: 1 },
        { ...base, to: 1 },
        { ...base, text: 'концерты' },
      ].map(cacheKey),
    );
    expect(keys.size).toBe(8);
    expect(cacheKey(parseEventsQuery({ q: 'концерт ' }, NOW))).toBe(cacheKey(base));
  });
});

describe('searchWindows', () => {
  const current = day('2026-08-21');

  it('walks the current events first, then older years newest first, each up to the current window', () => {
    expect(searchWindows([2027, 2026, 2024, 2015], current, {})).toEqual([
      { from: '2026-08-21T00:00:00.000Z', to: 'infinity' },
      { from: '2026-01-01T00:00:00.000Z', to: '2026-08-21T00:00:00.000Z' },
      { from: '2024-01-01T00:00:00.000Z', to: '2025-01-01T00:00:00.000Z' },
      { from: '2015-01-01T00:00:00.000Z', to: '2016-01-01T00:00:00.000Z' },
    ]);
  });

  it('leaves out the windows a date range excludes', () => {
    expect(
      searchWindows([2027, 2026, 2024, 2015], current, { from: day('2024-12-25'), to: day('2024-12-26') }),
    ).toEqual([{ from: '2024-01-01T00:00:00.000Z', to: '2025-01-01T00:00:00.000Z' }]);
    expect(searchWindows([2026, 2024], current, { from: day('2026-09-01') })).toEqual([
      { from: '2026-08-21T00:00:00.000Z', to: 'infinity' },
    ]);
    expect(searchWindows([2024], current, { to: day('2010-01-01') })).toEqual([]);
  });
});
