/**
 * A token bucket that waits instead of refusing: `take()` resolves when a send may go, so a provider's rate
 * limit shapes the flow rather than failing it. One per provider and process (NOTIFY_PROVIDER_RATE).
 */
export class Pacer {
  private tokens: number;
  private last = Date.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly perSecond: number,
    private readonly burst = Math.max(1, Math.ceil(perSecond / 10)),
  ) {
    this.tokens = this.burst;
  }

  take(): Promise<void> {
    // Chained: callers are served in order, each waiting for the token the one before left.
    const turn = this.queue.then(() => this.wait());
    this.queue = turn;
    return turn;
  }

  private async wait(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond)),
      );
    }
  }
}

/** `email=2000,sms=200,https://sms.example=50` → rates by channel or provider name. */
export function parseRates(text: string): Map<string, number> {
  const rates = new Map<string, number>();
  for (const entry of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = entry.lastIndexOf('=');
    const rate = Number(entry.slice(at + 1));
    if (at <= 0 || !(rate > 0))
      throw new Error(`NOTIFY_PROVIDER_RATE: "${entry}" is not name=sends-per-second`);
    rates.set(entry.slice(0, at), rate);
  }
  return rates;
}
