/**
 * Reads the INSERT statements of a SQL dump without executing anything: the file is split into
 * statements (quotes, comments and dollar quotes respected), and each `INSERT INTO t [(cols)] VALUES
 * (…), (…)` is parsed into rows of literal values. Only literals are accepted (strings, E'' strings,
 * numbers, NULL, TRUE/FALSE, optionally cast with ::type or written as `timestamp '…'`); an expression or
 * function call is refused with the statement number. Other statements (CREATE TABLE, SET, BEGIN…) are
 * counted and skipped. Memory holds one statement at a time.
 */

export type SqlValue = string | number | boolean | null;

export interface InsertRows {
  /** Table name, unquoted, lower-cased, without schema. */
  table: string;
  /** Column names as listed (lower-cased), or undefined when the statement lists none. */
  columns: string[] | undefined;
  rows: SqlValue[][];
}

export class SqlStatementStream {
  /** Text from the start of the unfinished statement. */
  #pending = '';
  /** How far #pending was scanned, and the splitter's state there. */
  #scan = 0;
  #state: 'code' | 'quote' | 'equote' | 'ident' | 'line' | 'block' | 'dollar' = 'code';
  #dollarTag = '';
  #statements = 0;
  /** Statements other than INSERT, by first keyword. */
  readonly skipped = new Map<string, number>();

  /** INSERT statements completed by `chunk`, parsed. */
  push(chunk: string): InsertRows[] {
    this.#pending += chunk;
    return this.#split(false);
  }

  /** The rest of the input: a last statement may lack its `;`. */
  end(): InsertRows[] {
    const out = this.#split(true);
    if (
      this.#state === 'quote' ||
      this.#state === 'equote' ||
      this.#state === 'ident' ||
      this.#state === 'dollar'
    ) {
      throw new Error(`statement ${this.#statements + 1}: the file ends inside a quoted string`);
    }
    const rest = this.#pending;
    this.#pending = '';
    this.#scan = 0;
    if (rest.trim() !== '') this.#statement(rest, out);
    return out;
  }

  get statements(): number {
    return this.#statements;
  }

  /**
   * Finds the statement ends in #pending. Every decision looks at most LOOKAHEAD characters ahead, so
   * until the input ends the scan stops that far from the end and resumes there with the next chunk.
   */
  #split(final: boolean): InsertRows[] {
    const LOOKAHEAD = 64;
    const out: InsertRows[] = [];
    const text = this.#pending;
    const limit = final ? text.length : text.length - LOOKAHEAD;
    let start = 0;
    let i = this.#scan;
    for (; i < limit; i++) {
      const c = text.charCodeAt(i);
      switch (this.#state) {
        case 'code':
          if (c === 0x3b /* ; */) {
            this.#statement(text.slice(start, i), out);
            start = i + 1;
          } else if (c === 0x27 /* ' */) {
            const before = text[i - 1];
            const eString = (before === 'E' || before === 'e') && !/[\w$]/.test(text[i - 2] ?? ' ');
            this.#state = eString ? 'equote' : 'quote';
          } else if (c === 0x22 /* " */) this.#state = 'ident';
          else if (c === 0x2d /* - */ && text[i + 1] === '-') this.#state = 'line';
          else if (c === 0x2f /* / */ && text[i + 1] === '*') {
            this.#state = 'block';
            i++;
          } else if (c === 0x24 /* $ */) {
            const tag = /^\$[A-Za-z_]?\w*\$/.exec(text.slice(i, i + LOOKAHEAD));
            if (tag && !/[\w]/.test(text[i - 1] ?? ' ')) {
              this.#state = 'dollar';
              this.#dollarTag = tag[0];
              i += tag[0].length - 1;
            }
          }
          break;
        case 'quote':
          // '' inside a string is an escaped quote: leaving and re-entering the state reads it right.
          if (c === 0x27) this.#state = 'code';
          break;
        case 'equote':
          if (c === 0x5c /* \ */) i++;
          else if (c === 0x27) this.#state = 'code';
          break;
        case 'ident':
          if (c === 0x22) this.#state = 'code';
          break;
        case 'line':
          if (c === 0x0a) this.#state = 'code';
          break;
        case 'block':
          if (c === 0x2a /* * */ && text[i + 1] === '/') {
            this.#state = 'code';
            i++;
          }
          break;
        case 'dollar':
          if (c === 0x24 && text.startsWith(this.#dollarTag, i)) {
            this.#state = 'code';
            i += this.#dollarTag.length - 1;
          }
          break;
      }
    }
    this.#pending = text.slice(start);
    this.#scan = Math.max(0, i - start);
    return out;
  }

  #statement(sql: string, out: InsertRows[]): void {
    this.#statements++;
    const keyword = firstKeyword(sql);
    if (keyword === undefined) return;
    if (keyword === 'copy') {
      throw new Error(
        `statement ${this.#statements}: COPY blocks are not supported; use INSERT statements or the .json file`,
      );
    }
    if (keyword !== 'insert') {
      this.skipped.set(keyword, (this.skipped.get(keyword) ?? 0) + 1);
      return;
    }
    try {
      out.push(parseInsert(sql));
    } catch (error) {
      throw new Error(`statement ${this.#statements}: ${(error as Error).message}`);
    }
  }
}

/** The statement's first word, lower-cased (comments skipped), or undefined for an empty statement. */
function firstKeyword(sql: string): string | undefined {
  const token = new Tokens(sql).next();
  return token ? token.value.toLowerCase() : undefined;
}

interface Token {
  kind: 'word' | 'ident' | 'string' | 'number' | 'punct';
  value: string;
  raw: string;
}

/** A tokenizer for one statement: words, "identifiers", strings, numbers and punctuation. */
class Tokens {
  #i = 0;
  constructor(private readonly sql: string) {}

  get position(): number {
    return this.#i;
  }

  next(): Token | undefined {
    const sql = this.sql;
    for (;;) {
      while (this.#i < sql.length && /\s/.test(sql[this.#i]!)) this.#i++;
      if (sql.startsWith('--', this.#i)) {
        const end = sql.indexOf('\n', this.#i);
        this.#i = end < 0 ? sql.length : end + 1;
        continue;
      }
      if (sql.startsWith('/*', this.#i)) {
        const end = sql.indexOf('*/', this.#i + 2);
        if (end < 0) throw new Error('unterminated /* comment');
        this.#i = end + 2;
        continue;
      }
      break;
    }
    if (this.#i >= sql.length) return undefined;
    const start = this.#i;
    const c = sql[start]!;
    if ((c === 'E' || c === 'e') && sql[start + 1] === "'") {
      this.#i++;
      const value = this.#escapeString();
      return { kind: 'string', value, raw: sql.slice(start, this.#i) };
    }
    if (c === "'") {
      const value = this.#plainString();
      return { kind: 'string', value, raw: sql.slice(start, this.#i) };
    }
    if (c === '"') {
      const end = sql.indexOf('"', start + 1);
      if (end < 0) throw new Error('unterminated quoted identifier');
      this.#i = end + 1;
      return { kind: 'ident', value: sql.slice(start + 1, end), raw: sql.slice(start, this.#i) };
    }
    if (c === '$') {
      const tag = /^\$[A-Za-z_]?\w*\$/.exec(sql.slice(start, start + 64));
      if (tag) {
        const end = sql.indexOf(tag[0], start + tag[0].length);
        if (end < 0) throw new Error('unterminated dollar-quoted string');
        this.#i = end + tag[0].length;
        return {
          kind: 'string',
          value: sql.slice(start + tag[0].length, end),
          raw: sql.slice(start, this.#i),
        };
      }
    }
    const number = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(sql.slice(start, start + 64));
    if (number && (c !== '-' || /\d|\./.test(sql[start + 1] ?? ''))) {
      this.#i += number[0].length;
      return { kind: 'number', value: number[0], raw: number[0] };
    }
    const word = /^[A-Za-z_][\w$]*/.exec(sql.slice(start, start + 128));
    if (word) {
      this.#i += word[0].length;
      return { kind: 'word', value: word[0].toLowerCase(), raw: word[0] };
    }
    const punct = sql.startsWith('::', start) ? '::' : c;
    this.#i += punct.length;
    return { kind: 'punct', value: punct, raw: punct };
  }

  #plainString(): string {
    const sql = this.sql;
    let value = '';
    let i = this.#i + 1;
    for (;;) {
      const end = sql.indexOf("'", i);
      if (end < 0) throw new Error('unterminated string');
      value += sql.slice(i, end);
      if (sql[end + 1] === "'") {
        value += "'";
        i = end + 2;
        continue;
      }
      this.#i = end + 1;
      return value;
    }
  }

  #escapeString(): string {
    const sql = this.sql;
    let value = '';
    let i = this.#i + 1;
    for (;;) {
      if (i >= sql.length) throw new Error('unterminated string');
      const c = sql[i]!;
      if (c === "'") {
        if (sql[i + 1] === "'") {
          value += "'";
          i += 2;
          continue;
        }
        this.#i = i + 1;
        return value;
      }
      if (c !== '\\') {
        value += c;
        i++;
        continue;
      }
      const next = sql[i + 1] ?? '';
      const simple: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (simple[next] !== undefined) {
        value += simple[next];
        i += 2;
      } else if (next === 'x' && /^[0-9A-Fa-f]{1,2}/.test(sql.slice(i + 2, i + 4))) {
        const hex = /^[0-9A-Fa-f]{1,2}/.exec(sql.slice(i + 2, i + 4))![0];
        value += String.fromCharCode(Number.parseInt(hex, 16));
        i += 2 + hex.length;
      } else if (/[0-7]/.test(next)) {
        const octal = /^[0-7]{1,3}/.exec(sql.slice(i + 1, i + 4))![0];
        value += String.fromCharCode(Number.parseInt(octal, 8));
        i += 1 + octal.length;
      } else if (next === 'u' && /^[0-9A-Fa-f]{4}/.test(sql.slice(i + 2, i + 6))) {
        value += String.fromCharCode(Number.parseInt(sql.slice(i + 2, i + 6), 16));
        i += 6;
      } else if (next === 'U' && /^[0-9A-Fa-f]{8}/.test(sql.slice(i + 2, i + 10))) {
        value += String.fromCodePoint(Number.parseInt(sql.slice(i + 2, i + 10), 16));
        i += 10;
      } else {
        value += next;
        i += 2;
      }
    }
  }
}

function name(token: Token | undefined, what: string): string {
  if (!token || (token.kind !== 'word' && token.kind !== 'ident')) throw new Error(`expected ${what}`);
  return token.kind === 'word' ? token.value : token.value.toLowerCase();
}

function expect(token: Token | undefined, value: string): void {
  if (!token || token.value !== value) {
    const found = token ? `"${token.raw}"` : 'the end of the statement';
    throw new Error(`expected ${value === ',' ? '","' : value.toUpperCase()}, found ${found}`);
  }
}

const TYPED_LITERALS = new Set(['timestamp', 'timestamptz', 'date', 'text', 'varchar', 'time']);

/** Parses one `INSERT INTO … VALUES …` statement (comments already stripped or tolerated). */
export function parseInsert(sql: string): InsertRows {
  const tokens = new Tokens(sql);
  expect(tokens.next(), 'insert');
  expect(tokens.next(), 'into');
  let table = name(tokens.next(), 'a table name');
  let token = tokens.next();
  while (token?.value === '.') {
    table = name(tokens.next(), 'a table name');
    token = tokens.next();
  }
  let columns: string[] | undefined;
  if (token?.value === '(') {
    columns = [];
    for (;;) {
      columns.push(name(tokens.next(), 'a column name'));
      token = tokens.next();
      if (token?.value === ')') break;
      expect(token, ',');
    }
    token = tokens.next();
  }
  expect(token, 'values');
  const rows: SqlValue[][] = [];
  for (;;) {
    expect(tokens.next(), '(');
    const row: SqlValue[] = [];
    for (;;) {
      const [value, after] = readValue(tokens);
      row.push(value);
      if (!after) throw new Error('the statement ends inside a row');
      if (after.value === ')') break;
      expect(after, ',');
    }
    rows.push(row);
    token = tokens.next();
    if (token?.value !== ',') break;
  }
  // Anything after the rows must be an ON CONFLICT clause (which a re-run import makes moot anyway).
  if (token && token.value !== 'on') throw new Error(`unexpected "${token.raw}" after the VALUES rows`);
  return { table, columns, rows };
}

/** One literal and the token after it (after any ::cast). */
function readValue(tokens: Tokens): [SqlValue, Token | undefined] {
  let token = tokens.next();
  let value: SqlValue;
  if (!token) throw new Error('the statement ends inside a row');
  if (token.kind === 'string') value = token.value;
  else if (token.kind === 'number') value = Number(token.value);
  else if (token.kind === 'word' && token.value === 'null') value = null;
  else if (token.kind === 'word' && (token.value === 'true' || token.value === 'false'))
    value = token.value === 'true';
  else if (token.kind === 'word' && TYPED_LITERALS.has(token.value)) {
    // `timestamp '2024-12-25 19:00'`, possibly `timestamp with time zone '…'`
    let next = tokens.next();
    while (next?.kind === 'word') next = tokens.next();
    if (next?.kind !== 'string') throw new Error(`expected a string after ${token.raw}`);
    value = next.value;
  } else {
    throw new Error(`only literal values are accepted, found "${token.raw}"`);
  }
  token = tokens.next();
  while (token?.value === '::') {
    name(tokens.next(), 'a type name');
    token = tokens.next();
    // timestamp(0), varchar(255), timestamp with time zone
    if (token?.value === '(') {
      while (token && token.value !== ')') token = tokens.next();
      token = tokens.next();
    }
    while (token?.kind === 'word') token = tokens.next();
  }
  return [value, token];
}
