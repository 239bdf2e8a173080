import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JsonElementStream } from '../../src/catalog/import/json-stream.ts';
import { normaliseDatetime } from '../../src/catalog/import/rows.ts';
import { type InsertRows, parseInsert, SqlStatementStream } from '../../src/catalog/import/sql-inserts.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** Cuts `text` into chunks of the given sizes, cycling: stream parsers must not care where. */
function chunks(text: string, sizes: number[]): string[] {
  const out: string[] = [];
  for (let i = 0, n = 0; i < text.length; n++) {
    const size = sizes[n % sizes.length]!;
    out.push(text.slice(i, i + size));
    i += size;
  }
  return out;
}

const CUTS = [[1], [2, 3], [7], [64], [65, 1, 130], [1 << 20]];

function readJson(text: string, sizes: number[]): unknown[] {
  const stream = new JsonElementStream();
  const out = chunks(text, sizes).flatMap((chunk) => stream.push(chunk));
  stream.end();
  return out;
}

function readSql(text: string, sizes: number[]): InsertRows[] {
  const stream = new SqlStatementStream();
  const out = chunks(text, sizes).flatMap((chunk) => stream.push(chunk));
  return [...out, ...stream.end()];
}

describe('JsonElementStream', () => {
  const array = fixture('release-json/events.json');
  const expected = JSON.parse(array) as unknown[];

  it.each(CUTS)('reads a top-level array cut every %s characters', (...sizes) => {
    expect(readJson(array, sizes)).toEqual(expected);
  });

  it('reads JSON Lines and concatenated objects, with braces and quotes inside strings', () => {
    const lines = `${expected.map((e) => JSON.stringify(e)).join('\n')}\n{"a":"}{\\"[","b":[{"c":1}]}`;
    expect(readJson(lines, [5])).toEqual([...expected, { a: '}{"[', b: [{ c: 1 }] }]);
    expect(readJson('\ufeff[]', [1])).toEqual([]);
  });

  it.each([
    ['[{"a":1},]', /unexpected|expected an object/],
    ['[{"a":1}{"b":2}]', /expected , or \]/],
    ['[{"a":1}] x', /after the closing \]/],
    ['[{"a":1}', /before the closing \]/],
    ['[{"a":', /ends inside an element/],
    ['[1, 2]', /expected an object/],
    ['[{"a":01}]', /element 1 is not valid JSON/],
  ])('refuses %s', (text, message) => {
    expect(() => readJson(text, [3])).toThrow(message);
  });
});

describe('SqlStatementStream', () => {
  const events = fixture('release-sql/events.sql');
  const archive = fixture('release-sql/events_archive.sql');

  it.each(CUTS)('reads the INSERTs cut every %s characters, skipping other statements', (...sizes) => {
    const rows = readSql(events, sizes);
    expect(rows.map((r) => [r.table, r.rows.length])).toEqual([
      ['events', 3],
      ['events', 3],
    ]);
    expect(rows[0]!.columns).toEqual(['id', 'title', 'description', 'type', 'datetime_start', 'provider']);
    expect(rows[0]!.rows[1]).toEqual([
      2,
      'Чемпионат "КВН" под руководством Дмитрия Козлова',
      'Вечер, полный азарта; табуляция:\tздесь, обратная косая: \\ и юникод Ж.',
      'game',
      '2025-10-02 18:30:00',
      'ShowTime',
    ]);
    expect(rows[1]!.rows[1]![4]).toBe('2025-10-05 21:00:00');
    expect(rows[1]!.rows[2]!.slice(1, 3)).toEqual([
      "It's a 'quoted' title",
      '--not a comment, /* nor this */',
    ]);
    const tail = readSql(archive, sizes);
    expect(tail.map((r) => [r.table, r.rows.length])).toEqual([
      ['events_archive', 3],
      ['events_archive', 3],
    ]);
    expect(tail[1]!.rows[1]![2]).toBe('$$ dollars $$ and $tag$ text');
  });

  it('counts what it skipped', () => {
    const stream = new SqlStatementStream();
    stream.push(events);
    stream.end();
    expect(Object.fromEntries(stream.skipped)).toEqual({ set: 1, begin: 1, create: 1, commit: 1 });
  });

  it('reads literals: numbers, booleans, NULL, casts, typed strings, escapes', () => {
    const parsed = parseInsert(
      `INSERT INTO t VALUES (-1.5e2, TRUE, false, NULL, '1'::int, 'x'::varchar(10), timestamp with time zone '2024-01-01 10:00+03', E'a\\x41\\101\\u0042\\'', $q$it's$q$)`,
    );
    expect(parsed).toEqual({
      table: 't',
      columns: undefined,
      rows: [[-150, true, false, null, '1', 'x', '2024-01-01 10:00+03', "aAAB'", "it's"]],
    });
  });

  it.each([
    ['INSERT INTO t VALUES (1, now())', /only literal values are accepted, found "now"/],
    ['INSERT INTO t VALUES (1, 2) RETURNING id', /unexpected "RETURNING"/],
    ['INSERT INTO t SELECT 1', /expected VALUES/],
    ['INSERT INTO t VALUES (1, 2', /ends inside a row/],
  ])('refuses %s', (sql, message) => {
    expect(() => parseInsert(sql)).toThrow(message);
  });
});

describe('normaliseDatetime', () => {
  it.each([
    ['2024-12-25T19:00:00', '2024-12-25T19:00:00.000Z'],
    ['2024-12-25 19:00:00', '2024-12-25T19:00:00.000Z'],
    ['2024-12-25T19:00', '2024-12-25T19:00:00.000Z'],
    ['2024-12-25', '2024-12-25T00:00:00.000Z'],
    ['2024-12-25T19:00:00.123456Z', '2024-12-25T19:00:00.123Z'],
    ['2024-12-25 19:00:00+03', '2024-12-25T16:00:00.000Z'],
    ['2024-12-25T19:00:00-0530', '2024-12-26T00:30:00.000Z'],
    ['2024-02-29T10:00:00', '2024-02-29T10:00:00.000Z'],
  ])('reads %s as %s', (input, output) => {
    expect(normaliseDatetime(input)).toBe(output);
  });

  it.each(['2024-02-30T10:00:00', '2023-02-29', '25.12.2024', '2024-12-25T25:00:00', '1899-12-31', ''])(
    'refuses %s',
    (input) => {
      expect(normaliseDatetime(input)).toBeUndefined();
    },
  );
});
