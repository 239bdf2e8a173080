import type { Logger } from 'pino';

/**
 * Error logging that cannot flood: during a database outage in a 409 storm, tens of thousands of writes
 * a second fail the same way. The first failure of a kind is logged at once; the following ones within
 * `everyMs` are counted and reported with the next line.
 */
export class ThrottledLog {
  readonly #logger: Logger;
  readonly #everyMs: number;
  readonly #kinds = new Map<string, { last: number; suppressed: number }>();

  constructor(logger: Logger, everyMs = 1_000) {
    this.#logger = logger;
    this.#everyMs = everyMs;
  }

  error(error: unknown, message: string, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    const kind = this.#kinds.get(message);
    if (kind && now - kind.last < this.#everyMs) {
      kind.suppressed++;
      return;
    }
    const suppressed = kind?.suppressed ?? 0;
    this.#kinds.set(message, { last: now, suppressed: 0 });
    this.#logger.error(
      { err: error, ...fields, ...(suppressed > 0 ? { alsoSince: suppressed } : {}) },
      message,
    );
  }
}
