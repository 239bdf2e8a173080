/** Failure modes shared by the Notify peers, set as a behaviour (every matching event) or a one-shot fault. */
export type SmtpFailure =
  | { mode: 'refuse' }
  | { mode: '4xx' | '5xx'; stage?: 'rcpt' | 'data'; code?: number; message?: string }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'cut' };

export type HttpFailure =
  | { mode: '4xx'; status?: 400 | 422 | 403 | 404 | 413 }
  | { mode: '5xx'; status?: 500 | 502 | 503 }
  | { mode: '429'; retryAfterSeconds?: number }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'cut' }
  | { mode: 'gone' };

/** A failure, optionally only for one recipient (address, phone number or push subscription id). */
export type Scoped<F> = F & { to?: string };

export class FaultError extends Error {
  override name = 'FaultError';
}

const MODES = {
  smtp: ['refuse', '4xx', '5xx', 'slow', 'cut'],
  sms: ['4xx', '5xx', '429', 'slow', 'cut'],
  push: ['4xx', '5xx', '429', 'slow', 'cut', 'gone'],
} as const;

/** An hour, as the gateway simulator allows: a longer timer would overflow to 1 ms. */
const MAX_DELAY_MS = 3_600_000;

/** Checks a fault/behaviour failure posted over HTTP; throws FaultError naming the problem. */
export function parseFailure<F>(kind: keyof typeof MODES, value: unknown): Scoped<F> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FaultError('a failure must be a JSON object');
  const v = value as Record<string, unknown>;
  if (!(MODES[kind] as readonly unknown[]).includes(v.mode))
    throw new FaultError(`mode must be one of ${MODES[kind].join(', ')}`);
  if (
    v.mode === 'slow' &&
    !(Number.isInteger(v.delayMs) && (v.delayMs as number) >= 0 && (v.delayMs as number) <= MAX_DELAY_MS)
  )
    throw new FaultError(`slow needs delayMs (an integer from 0 to ${MAX_DELAY_MS})`);
  if (v.to !== undefined && typeof v.to !== 'string') throw new FaultError('to must be a string');
  for (const key of ['code', 'status', 'retryAfterSeconds'])
    if (v[key] !== undefined && !Number.isInteger(v[key])) throw new FaultError(`${key} must be an integer`);
  if (v.stage !== undefined && v.stage !== 'rcpt' && v.stage !== 'data')
    throw new FaultError('stage must be rcpt or data');
  return structuredClone(v) as Scoped<F>;
}

/** Persistent failure + queue of one-shot faults; `take(to)` returns what applies to this event. */
export class FaultBox<F extends { mode: string }> {
  behaviour: Scoped<F> | null = null;
  private readonly queue: Scoped<F>[] = [];
  inject(fault: Scoped<F>): void {
    this.queue.push(fault);
  }
  /** The next fault for `to` (one-shot first, consumed; else the behaviour), among `modes` when given. */
  take(to: string | undefined, modes?: readonly string[]): Scoped<F> | undefined {
    const fits = (f: Scoped<F>) =>
      (f.to === undefined || (to !== undefined && f.to.toLowerCase() === to.toLowerCase())) &&
      (modes === undefined || modes.includes(f.mode));
    const index = this.queue.findIndex(fits);
    if (index !== -1) return this.queue.splice(index, 1)[0];
    return this.behaviour && fits(this.behaviour) ? this.behaviour : undefined;
  }
  clear(): void {
    this.queue.length = 0;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export async function readBody(req: import('node:http').IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new FaultError('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
};
