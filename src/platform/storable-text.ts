/**
 * Text PostgreSQL cannot take as given. A NUL character is refused by `text`, `varchar` and `jsonb` alike
 * (error 22021 or 22P05, a 500 if it gets that far); a lone UTF-16 surrogate has no UTF-8 form, so the
 * driver would silently store U+FFFD instead. Invalid UTF-8 never gets this far: every decoder on the way
 * in (query strings, JSON, headers) replaces or keeps the bytes as valid text, or refuses the request.
 */

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** What is wrong with `text` for PostgreSQL, as the end of a sentence ("must …"), or undefined. */
export function textProblem(text: string): string | undefined {
  if (text.indexOf('\0') !== -1) return 'must not contain a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode text (it has a lone surrogate)';
  return undefined;
}

/**
 * The first string in `value` (a parsed query, params or JSON body: objects, arrays, strings, any depth)
 * that PostgreSQL cannot take, named by its path from `root` like the validator's messages
 * (`body/items/0/name`), or undefined. Property names are checked too. Walked without recursion, so a
 * deeply nested body cannot overflow the stack.
 */
export function findUnstorableText(value: unknown, root: string): string | undefined {
  if (value === undefined || value === null) return undefined; // most requests have no body: no allocation
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) return `${path} ${problem}`;
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], `${path}/${i}`]);
    } else if (isPlainData(current)) {
      const keys = Object.keys(current);
      for (const key of keys) {
        const problem = textProblem(key);
        if (problem) return `${path} has a property name that ${problem}`;
      }
      // Reversed onto the stack, so the first bad value in document order is the one named.
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        stack.push([(current as Record<string, unknown>)[key], `${path}/${key}`]);
      }
    }
  }
  return undefined;
}

/**
 * A parsed object, not a Buffer, stream or other instance a parser may hand over: plain, null-prototype, or
 * made by an empty constructor whose prototype has none (how Fastify's query and params objects are built).
 */
function isPlainData(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}
