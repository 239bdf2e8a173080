/**
 * What a provider call ended in. A failure says whose fault it is, because that decides what follows:
 * `transient` (the provider or the network: retry later, try the next provider now), `permanent` (this
 * message to this recipient will never be accepted: a dead letter), `bounce` (the address does not exist:
 * suppressed), `gone` (a push subscription the push service no longer knows: removed).
 */
export type FailureKind = 'transient' | 'permanent' | 'bounce' | 'gone';

export interface Accepted {
  provider: string;
  providerMessageId: string | null;
}

export class SendFailure extends Error {
  override name = 'SendFailure';
  /** Only transient failures say anything about the provider's health (the circuit breaker counts them). */
  readonly peerFailure: boolean;
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** The provider asked for this pause (HTTP 429/503 Retry-After). */
    readonly retryAfterMs?: number,
    readonly provider?: string,
  ) {
    super(message);
    this.peerFailure = kind === 'transient';
  }
}

/** Any error of a provider call as a SendFailure: unknown errors (timeouts, resets) are transient. */
export function asSendFailure(error: unknown, provider: string): SendFailure {
  if (error instanceof SendFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SendFailure('transient', message, undefined, provider);
}

/** Seconds or an HTTP date, as Retry-After gives it; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Status codes of an HTTP provider that say "not now" rather than "never". */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * The failure an HTTP provider's non-2xx answer is: transient (with its Retry-After) for 408/425/429/5xx,
 * `gone` for a status the channel says means the recipient no longer exists, permanent otherwise.
 */
export function httpFailure(
  response: Response,
  detail: string,
  provider: string,
  goneStatuses: readonly number[] = [],
): SendFailure {
  if (goneStatuses.includes(response.status)) return new SendFailure('gone', detail, undefined, provider);
  if (isTransientStatus(response.status))
    return new SendFailure('transient', detail, retryAfterMs(response.headers.get('retry-after')), provider);
  return new SendFailure('permanent', detail, undefined, provider);
}
