import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  circuitBreakerStatusBody,
  createGatewayBreaker,
  GatewayApiError,
  type GatewayClient,
  GatewayNetworkError,
  GatewayTimeoutError,
} from '../../../src/payments/gateway/index.ts';
import { type CircuitBreaker, CircuitOpenError } from '../../../src/platform/resilience/circuit-breaker.ts';
import { DEFAULT_BEHAVIOUR, type GatewaySimulator } from '../../../src/sims/gateway/index.ts';
import { clientFor, FAST, orderId, startSim, waitFor } from './harness.ts';

const CONFIG = { CIRCUIT_BREAKER_FAILURE_THRESHOLD: 3, CIRCUIT_BREAKER_TIMEOUT_SECONDS: 60 };

describe('circuit breaker around the gateway client', () => {
  let sim: GatewaySimulator;
  let breaker: CircuitBreaker;
  let client: GatewayClient;

  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(async () => {
    await sim?.stop();
  });
  beforeEach(() => {
    sim.reset();
    sim.configure({ ...DEFAULT_BEHAVIOUR, ...FAST });
    // A short open timeout, so the test sees it half-open without waiting a minute.
    breaker = createGatewayBreaker(CONFIG, undefined, { openTimeoutMs: 300 });
    client = clientFor(sim, { breaker, timeoutMs: 300, retry: { attempts: 1 } });
  });

  const attempt = () => client.init({ orderId: orderId(), amount: 1_000 }).catch((error: unknown) => error);

  it('opens after N consecutive failures of a gateway that is down, then fails fast without reaching it', async () => {
    sim.configure({ outage: 'unavailable' });
    for (let i = 0; i < 3; i++) {
      const error = await attempt();
      expect(error).toBeInstanceOf(GatewayApiError);
      expect(error).toMatchObject({ code: 'GATEWAY_UNAVAILABLE', gatewayStatus: 503, gatewayCode: 3503 });
    }
    expect(breaker.state).toBe('Open');
    const received = sim.stats().received;
    const refused = await attempt();
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({ code: 'CIRCUIT_OPEN', statusCode: 503 });
    expect(sim.stats().received).toBe(received);

    expect(circuitBreakerStatusBody(breaker.snapshot())).toMatchObject({
      success: true,
      circuit_breaker: { state: 'Open', failure_count: 3, threshold: 3, timeout_seconds: 0.3 },
    });
    expect(circuitBreakerStatusBody(breaker.snapshot()).circuit_breaker.next_attempt_at).not.toBeNull();
  });

  it('half-opens after the timeout, and a successful trial closes it', async () => {
    sim.configure({ outage: 'unavailable' });
    for (let i = 0; i < 3; i++) await attempt();
    expect(breaker.state).toBe('Open');
    await waitFor(() => (breaker.state === 'HalfOpen' ? true : undefined));
    sim.configure({ outage: 'none' });
    const payment = await attempt();
    expect(payment).toMatchObject({ status: 'NEW' });
    expect(breaker.snapshot()).toMatchObject({ state: 'Closed', failures: 0, openedAt: null });
  });

  it('a failed trial opens it again (connection resets count as failures)', async () => {
    sim.configure({ outage: 'reset' });
    for (let i = 0; i < 3; i++) expect(await attempt()).toBeInstanceOf(GatewayNetworkError);
    const firstOpened = breaker.snapshot().openedAt;
    await waitFor(() => (breaker.state === 'HalfOpen' ? true : undefined));
    expect(await attempt()).toBeInstanceOf(GatewayNetworkError);
    expect(breaker.state).toBe('Open');
    expect(breaker.snapshot().openedAt).not.toBe(firstOpened);
    expect(await attempt()).toBeInstanceOf(CircuitOpenError);
    expect(sim.stats().received).toBe(4);
  });

  it('timeouts count as failures', async () => {
    sim.configure({ outage: 'stall' });
    for (let i = 0; i < 3; i++) expect(await attempt()).toBeInstanceOf(GatewayTimeoutError);
    expect(breaker.state).toBe('Open');
  });

  it('business answers (4xx: not found, bad token, conflicts) never open it', async () => {
    for (let i = 0; i < 5; i++)
      await expect(client.getPayment(`pay_missing_${i}`)).rejects.toMatchObject({
        code: 'GATEWAY_NOT_FOUND',
      });
    const wrong = clientFor(sim, { breaker }, { teamSlug: 'test-team', password: 'wrong' });
    for (let i = 0; i < 5; i++)
      await expect(wrong.init({ orderId: orderId(), amount: 1_000 })).rejects.toMatchObject({
        code: 'GATEWAY_BAD_TOKEN',
      });
    expect(breaker.snapshot()).toMatchObject({ state: 'Closed', failures: 0 });
  });

  it("each retry attempt counts, and an open breaker stops a call's retries at once", async () => {
    const retrying = clientFor(sim, { breaker, retry: { attempts: 5, baseDelayMs: 1, maxDelayMs: 1 } });
    sim.configure({ outage: 'unavailable' });
    const error = await retrying.init({ orderId: orderId(), amount: 1_000 }).catch((e: unknown) => e);
    // The call ends with the last answer the gateway gave, not the breaker's refusal: whether that earlier
    // attempt registered the payment is still unknown, and the caller must treat it so.
    expect(error).not.toBeInstanceOf(CircuitOpenError);
    expect((error as GatewayApiError).code).toBe('GATEWAY_UNAVAILABLE');
    expect(sim.stats().received).toBe(3);
    expect(breaker.state).toBe('Open');
  });
});
