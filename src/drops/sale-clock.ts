/** One sale's time window, in Unix milliseconds: [startsAt, endsAt). */
export interface SaleWindow {
  readonly number: number;
  readonly startsAt: number;
  readonly endsAt: number;
}

/**
 * The sale number is a pure function of the clock: `floor((now - epoch) / period)`. Every request reads
 * the clock once, at entry, and works in that sale only, so a request racing a boundary lands in exactly
 * one sale, and every process (and a restarted one) agrees on which sale is open without coordination.
 */
export class SaleClock {
  readonly epochMs: number;
  readonly periodMs: number;
  #last: SaleWindow;

  constructor(epochMs: number, periodMs: number) {
    if (!Number.isSafeInteger(epochMs) || epochMs < 0) throw new Error(`bad sale epoch ${epochMs}`);
    if (!Number.isSafeInteger(periodMs) || periodMs < 1) throw new Error(`bad sale period ${periodMs}`);
    this.epochMs = epochMs;
    this.periodMs = periodMs;
    this.#last = this.window(0);
  }

  /** The sale open at `now`. The same object is returned while the sale lasts (no allocation per request). */
  at(now: number): SaleWindow {
    const last = this.#last;
    if (now >= last.startsAt && now < last.endsAt) return last;
    const number = Math.floor((now - this.epochMs) / this.periodMs);
    if (number < 0) throw new Error(`no sale before the epoch (${new Date(this.epochMs).toISOString()})`);
    this.#last = this.window(number);
    return this.#last;
  }

  window(number: number): SaleWindow {
    const startsAt = this.epochMs + number * this.periodMs;
    return Object.freeze({ number, startsAt, endsAt: startsAt + this.periodMs });
  }
}
