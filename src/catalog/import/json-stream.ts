/**
 * A streaming reader of JSON values that arrive one after another: either one big top-level array
 * (`[{…}, {…}]`) or a sequence of values (JSON Lines, or objects simply concatenated). It finds where
 * each element ends by tracking strings and nesting, hands that slice to JSON.parse, and keeps only the
 * unfinished element between chunks, so memory stays at one element however big the file is.
 */
export class JsonElementStream {
  #mode: 'start' | 'array' | 'sequence' | 'done' = 'start';
  /** Text of the element being read (from its first character), carried between chunks. */
  #carry = '';
  #depth = 0;
  #inString = false;
  #escape = false;
  /** Characters consumed before the current chunk, for error positions. */
  #offset = 0;
  #elements = 0;
  #expectComma = false;
  #afterComma = false;

  /** Elements completed by `chunk`, parsed. */
  push(chunk: string): unknown[] {
    const out: unknown[] = [];
    const text = this.#carry + chunk;
    // The carried text was scanned already; continue where the last chunk stopped.
    let i = this.#carry.length;
    let start = this.#depth > 0 ? 0 : -1;
    const base = this.#offset - this.#carry.length;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#depth > 0) {
        if (this.#inString) {
          if (this.#escape) this.#escape = false;
          else if (c === 0x5c) this.#escape = true;
          else if (c === 0x22) this.#inString = false;
          continue;
        }
        if (c === 0x22) this.#inString = true;
        else if (c === 0x7b || c === 0x5b) this.#depth++;
        else if (c === 0x7d || c === 0x5d) {
          this.#depth--;
          if (this.#depth === 0) {
            out.push(this.#parse(text.slice(start, i + 1), base + start));
            start = -1;
            this.#expectComma = this.#mode === 'array';
          }
        }
        continue;
      }
      // Between elements.
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff) continue;
      if (this.#mode === 'done') throw this.#error('unexpected text after the closing ]', base + i);
      if (this.#mode === 'start') {
        if (c === 0x5b) {
          this.#mode = 'array';
          continue;
        }
        this.#mode = 'sequence';
      }
      if (this.#mode === 'array') {
        if (c === 0x5d) {
          if (this.#afterComma) throw this.#error('unexpected ] after ,', base + i);
          this.#mode = 'done';
          continue;
        }
        if (c === 0x2c) {
          if (!this.#expectComma) throw this.#error('unexpected ,', base + i);
          this.#expectComma = false;
          this.#afterComma = true;
          continue;
        }
        if (this.#expectComma) throw this.#error('expected , or ] between elements', base + i);
      }
      if (c !== 0x7b) throw this.#error('expected an object ({…})', base + i);
      start = i;
      this.#depth = 1;
      this.#afterComma = false;
    }
    this.#carry = start >= 0 ? text.slice(start) : '';
    this.#offset += chunk.length;
    return out;
  }

  /** Checks the input ended where it may (not inside an element or an unclosed array). */
  end(): void {
    if (this.#depth > 0) throw this.#error('the input ends inside an element', this.#offset);
    if (this.#mode === 'array') throw this.#error('the input ends before the closing ]', this.#offset);
  }

  get elements(): number {
    return this.#elements;
  }

  #parse(slice: string, position: number): unknown {
    this.#elements++;
    try {
      return JSON.parse(slice);
    } catch (error) {
      throw this.#error(`element ${this.#elements} is not valid JSON: ${(error as Error).message}`, position);
    }
  }

  #error(message: string, position: number): Error {
    return new Error(`${message} (at character ${position})`);
  }
}
