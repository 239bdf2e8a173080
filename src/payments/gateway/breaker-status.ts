import { type Static, Type } from 'typebox';
import type { CircuitBreakerSnapshot } from '../../platform/resilience/circuit-breaker.ts';

/**
 * The body of `GET /api/payments/circuit-breaker-status`: seed 000's shape
 * (`{success, circuit_breaker: {state, failure_count, threshold, timeout_seconds}}`) plus when the breaker
 * opened and when it will let a trial call through.
 */
export const CircuitBreakerStatusSchema = Type.Object({
  success: Type.Literal(true),
  circuit_breaker: Type.Object({
    state: Type.Union([Type.Literal('Closed'), Type.Literal('Open'), Type.Literal('HalfOpen')]),
    failure_count: Type.Integer({ minimum: 0 }),
    threshold: Type.Integer({ minimum: 1 }),
    timeout_seconds: Type.Number({ minimum: 0 }),
    opened_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  }),
});
export type CircuitBreakerStatus = Static<typeof CircuitBreakerStatusSchema>;

export function circuitBreakerStatusBody(snapshot: CircuitBreakerSnapshot): CircuitBreakerStatus {
  return {
    success: true,
    circuit_breaker: {
      state: snapshot.state,
      failure_count: snapshot.failures,
      threshold: snapshot.threshold,
      timeout_seconds: snapshot.timeoutSeconds,
      opened_at: snapshot.openedAt,
      next_attempt_at: snapshot.nextAttemptAt,
    },
  };
}
