import { StringDecoder } from 'node:string_decoder';

export type SqlValue = string | number | boolean | null;

export interface InsertedRow {
  table: string;
  columns: string[];
  values: SqlValue[];
}

/**
 * Streams the rows of the `INSERT INTO t (cols) VALUES (...), (...);` statements of a SQL dump
 * arriving as UTF-8 `chunks` (e.g. `readReleaseChunks`), without holding the file or executing it.
 * Other statements (CREATE TABLE, SET…) are skipped. Understands single-quoted strings with ''
 * escapes, NULL, TRUE/FALSE and numbers.
 */
export async function* readSqlInserts(chunks: AsyncIterable<Buffer>): AsyncGenerator<InsertedRow> {
  const parser = new InsertParser();
  // A chunk may end inside a multi-byte character: the decoder keeps it for the next one.
  const decoder = new StringDecoder('utf8');
  for await (const chunk of chunks) yield* parser.feed(decoder.write(chunk));
  yield* parser.feed(decoder.end());
  parser.end();
}

type Mode = 'statement' | 'values' | 'tuple' | 'string';

class InsertParser {
  private mode: Mode = 'statement';
  private statement = '';
  private table = '';
  private columns: string[] = [];
  private field = '';
  private fieldQuoted = false;
  private row: SqlValue[] = [];
  private quotePending = false;

  *feed(text: string): Generator<InsertedRow> {
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      switch (this.mode) {
        case 'statement':
          if (c === ';') {
            this.statement = '';
          } else {
            this.statement += c;
            if ((c === 'S' || c === 's') && /\bvalues$/i.test(this.statement)) this.startValues();
            // Only the head of a statement matters; don't grow on long non-INSERT statements.
            if (this.statement.length > 65536) this.statement = this.statement.slice(-1024);
          }
          break;
        case 'values':
          if (c === '(') {
            this.mode = 'tuple';
            this.row = [];
            this.field = '';
            this.fieldQuoted = false;
          } else if (c === ';') {
            this.mode = 'statement';
            this.statement = '';
          }
          break;
        case 'string':
          if (this.quotePending) {
            this.quotePending = false;
            if (c === "'") {
              this.field += "'";
              break;
            }
            this.mode = 'tuple';
            i--; // the quote closed the string: look at this character again as part of the tuple
            break;
          }
          if (c === "'") this.quotePending = true;
          else this.field += c;
          break;
        case 'tuple':
          if (c === "'") {
            this.mode = 'string';
            this.fieldQuoted = true;
          } else if (c === ',') {
            this.row.push(this.value());
          } else if (c === ')') {
            this.row.push(this.value());
            this.mode = 'values';
            if (this.row.length !== this.columns.length) {
              throw new Error(
                `an INSERT into ${this.table} has ${this.row.length} values for ${this.columns.length} columns`,
              );
            }
            yield { table: this.table, columns: this.columns, values: this.row };
          } else if (!/\s/.test(c) || this.fieldQuoted) {
            if (!/\s/.test(c)) this.field += c;
          }
          break;
      }
    }
  }

  end(): void {
    if (this.mode === 'tuple' || this.mode === 'string') throw new Error('the SQL file ends inside a row');
  }

  private startValues(): void {
    const head = /insert\s+into\s+([\w."]+)\s*\(([^)]*)\)\s*values$/i.exec(this.statement.trim());
    if (!head) {
      this.statement = '';
      return; // e.g. an INSERT without a column list: not a release file
    }
    this.table = head[1]!.replaceAll('"', '').split('.').pop()!;
    this.columns = head[2]!.split(',').map((column) => column.trim().replaceAll('"', ''));
    this.mode = 'values';
    this.statement = '';
  }

  private value(): SqlValue {
    const raw = this.field;
    const quoted = this.fieldQuoted;
    this.field = '';
    this.fieldQuoted = false;
    if (quoted) return raw;
    if (/^null$/i.test(raw)) return null;
    if (/^true$/i.test(raw)) return true;
    if (/^false$/i.test(raw)) return false;
    const number = Number(raw);
    if (raw !== '' && Number.isFinite(number)) return number;
    throw new Error(
      `cannot read the SQL value ${JSON.stringify(raw.slice(0, 40))} in an INSERT into ${this.table}`,
    );
  }
}
