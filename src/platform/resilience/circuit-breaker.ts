import { AppError } from '../http/errors.ts';

/**
 * A circuit breaker around calls to one remote peer (the payment gateway, an SMS provider…).
 *
 * - **Closed**: calls go through. Each failure that shows the peer is unhealthy adds one to a count of
 *   consecutive failures; any answer from the peer (a success, or a business refusal such as a decline
 *   or a 4xx) sets it back to zero. At `failureThreshold` the breaker opens.
 * - **Open**: calls fail at once with `CircuitOpenError`, without touching the peer, until
 *   `openTimeoutMs` has passed since it opened.
 * - **HalfOpen**: the first call after the timeout is a single trial; calls that arrive while the trial
 *   is in flight fail fast. The trial's success (or business refusal) closes the breaker; its failure
 *   opens it again for another `openTimeoutMs`.
 *
 * What counts as a failure is decided by `isFailure`; by default every error counts except one that says
 * otherwise with `peerFailure === false` (the gateway client's errors carry that flag). Outcomes of calls
 * that started before the last state change are ignored, so a slow call from a closed period cannot
 * close a breaker that has since opened. A trial that never settles would pin the breaker in HalfOpen,
 * so a trial older than `trialTimeoutMs` (default: `openTimeoutMs`) no longer blocks a new one; the
 * wrapped call should still carry its own timeout.
 */
export type CircuitState = 'Closed' | 'Open' | 'HalfOpen';

export interface CircuitBreakerOptions {
  /** Names the peer in errors and logs, e.g. `payment-gateway`. */
  name: string;
  /** Consecutive failures that open the breaker (>= 1). */
  failureThreshold: number;
  /** How long the breaker stays open before it lets one trial call through. */
  openTimeoutMs: number;
  /** After how long an unsettled trial stops blocking the next one (default `openTimeoutMs`). */
  trialTimeoutMs?: number;
  /** Whether an error shows the peer is unhealthy (counts towards opening). */
  isFailure?: (error: unknown) => boolean;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Called after every state change (for logs and metrics); must not throw. */
  onStateChange?: (change: {
    from: CircuitState;
    to: CircuitState;
    snapshot: CircuitBreakerSnapshot;
  }) => void;
}

/** What `GET /api/payments/circuit-breaker-status` reports (see `circuitBreakerStatusBody`). */
export interface CircuitBreakerSnapshot {
  state: CircuitState;
  /** Consecutive failures counted so far (while open: the count that opened it). */
  failures: number;
  threshold: number;
  timeoutSeconds: number;
  /** When the breaker last opened (ISO 8601), null while closed. */
  openedAt: string | null;
  /** When an open breaker lets its trial call through (ISO 8601), null unless open. */
  nextAttemptAt: string | null;
}

/** A call refused without reaching the peer: the breaker is open (or its trial is in flight). */
export class CircuitOpenError extends AppError {
  override name = 'CircuitOpenError';
  /** Never the peer's fault: a refusal must not count as another failure. */
  readonly peerFailure = false;
  constructor(
    readonly breaker: string,
    readonly state: CircuitState,
    /** How long until a trial may be let through (0 while a trial is in flight). */
    readonly retryAfterMs: number,
  ) {
    super(
      'CIRCUIT_OPEN',
      503,
      state === 'HalfOpen'
        ? `${breaker} is recovering: a trial call is in flight; try again shortly`
        : `${breaker} is unavailable: the circuit breaker is open; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
      { breaker, state, retryAfterSeconds: Math.ceil(retryAfterMs / 1000) },
    );
  }
}

export function isCircuitOpenError(error: unknown): error is CircuitOpenError {
  return error instanceof CircuitOpenError;
}

/**
 * What callers of a breaker need, whichever home its state has: this process (`CircuitBreaker`) or Redis,
 * shared by every process of a deployment (`RedisCircuitBreaker`, redis-circuit-breaker.ts).
 */
export interface Breaker {
  readonly name: string;
  execute<T>(call: () => Promise<T>): Promise<T>;
  /** The state now, as `snapshot()` reports it. */
  status(): Promise<CircuitBreakerSnapshot>;
  /** Back to Closed with no failures (an operator's override, and tests). */
  reset(): Promise<void>;
}

export const defaultIsFailure = (error: unknown): boolean =>
  !(
    typeof error === 'object' &&
    error !== null &&
    (error as { peerFailure?: unknown }).peerFailure === false
  );

export class CircuitBreaker implements Breaker {
  readonly name: string;
  readonly threshold: number;
  readonly openTimeoutMs: number;
  private readonly trialTimeoutMs: number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly now: () => number;
  private readonly onStateChange: CircuitBreakerOptions['onStateChange'];

  private current: CircuitState = 'Closed';
  private failures = 0;
  private openedAt: number | null = null;
  private nextAttemptAt: number | null = null;
  /** Bumped on every state change; a call's outcome only counts in the generation it started in. */
  private generation = 0;
  /** When the HalfOpen trial started, or null when no trial is in flight. */
  private trialStartedAt: number | null = null;

  constructor(options: CircuitBreakerOptions) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1)
      throw new RangeError(`failureThreshold must be an integer >= 1, got ${options.failureThreshold}`);
    if (!(options.openTimeoutMs >= 0)) throw new RangeError('openTimeoutMs must be >= 0');
    this.name = options.name;
    this.threshold = options.failureThreshold;
    this.openTimeoutMs = options.openTimeoutMs;
    this.trialTimeoutMs = options.trialTimeoutMs ?? options.openTimeoutMs;
    this.isFailure = options.isFailure ?? defaultIsFailure;
    this.now = options.now ?? Date.now;
    this.onStateChange = options.onStateChange;
  }

  /** The state now: an open breaker whose timeout has passed reports HalfOpen (ready for a trial). */
  get state(): CircuitState {
    this.advance();
    return this.current;
  }

  snapshot(): CircuitBreakerSnapshot {
    this.advance();
    return this.view();
  }

  async status(): Promise<CircuitBreakerSnapshot> {
    return this.snapshot();
  }

  private view(): CircuitBreakerSnapshot {
    return {
      state: this.current,
      failures: this.failures,
      threshold: this.threshold,
      timeoutSeconds: this.openTimeoutMs / 1000,
      openedAt: this.openedAt === null ? null : new Date(this.openedAt).toISOString(),
      nextAttemptAt:
        this.current === 'Open' && this.nextAttemptAt !== null
          ? new Date(this.nextAttemptAt).toISOString()
          : null,
    };
  }

  /**
   * Runs `call` if the breaker lets it through, and records its outcome. Throws `CircuitOpenError`
   * without calling it when open, or when in HalfOpen with the trial still in flight.
   */
  async execute<T>(call: () => Promise<T>): Promise<T> {
    const generation = this.admit();
    let result: T;
    try {
      result = await call();
    } catch (error) {
      this.record(generation, this.isFailure(error));
      throw error;
    }
    this.record(generation, false);
    return result;
  }

  /** Back to Closed with no failures (an operator's override, and tests). */
  async reset(): Promise<void> {
    this.transition('Closed');
  }

  /** Lets a call through or throws; returns the generation the call belongs to. */
  private admit(): number {
    this.advance();
    const now = this.now();
    if (this.current === 'Open') {
      throw new CircuitOpenError(this.name, 'Open', Math.max(0, (this.nextAttemptAt ?? now) - now));
    }
    if (this.current === 'HalfOpen') {
      if (this.trialStartedAt !== null && now - this.trialStartedAt < this.trialTimeoutMs) {
        throw new CircuitOpenError(this.name, 'HalfOpen', 0);
      }
      // A new trial (the first, or one replacing a trial that never settled): its own generation, so
      // the outcome of an abandoned trial is ignored.
      this.generation++;
      this.trialStartedAt = now;
    }
    return this.generation;
  }

  private record(generation: number, failed: boolean): void {
    if (generation !== this.generation) return;
    if (this.current === 'HalfOpen') {
      this.trialStartedAt = null;
      if (failed) {
        this.failures++;
        this.transition('Open');
      } else {
        this.transition('Closed');
      }
      return;
    }
    if (this.current !== 'Closed') return;
    if (!failed) {
      this.failures = 0;
      return;
    }
    this.failures++;
    if (this.failures >= this.threshold) this.transition('Open');
  }

  /** Open → HalfOpen once the open timeout has passed. */
  private advance(): void {
    if (this.current === 'Open' && this.nextAttemptAt !== null && this.now() >= this.nextAttemptAt) {
      this.transition('HalfOpen');
    }
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    this.current = to;
    this.generation++;
    if (to === 'Open') {
      const now = this.now();
      this.openedAt = now;
      this.nextAttemptAt = now + this.openTimeoutMs;
    } else if (to === 'Closed') {
      this.failures = 0;
      this.openedAt = null;
      this.nextAttemptAt = null;
    }
    if (to !== 'HalfOpen') this.trialStartedAt = null;
    if (from !== to) this.onStateChange?.({ from, to, snapshot: this.view() });
  }
}
