import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, spawnNode, waitForOk } from '../helpers/process.ts';

const FIXTURE_SERVER = new URL('../fixtures/fixture-server.ts', import.meta.url).pathname;

describe('graceful shutdown', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('SIGTERM under load answers every in-flight request, refuses new ones, and exits 0', async () => {
    const port = await freePort();
    const server = spawnNode(
      [],
      { DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'warn', SEED_DEMO_ON_START: 'false' },
      FIXTURE_SERVER,
    );
    const base = `http://127.0.0.1:${port}`;
    await waitForOk(`${base}/health/live`);
    const agent = new Agent({ connections: 200, pipelining: 1 });
    try {
      // 100 slow requests in flight when the signal arrives.
      const inFlight = Array.from({ length: 100 }, () =>
        request(`${base}/fixture/slow?ms=1500`, { dispatcher: agent }).then(async (r) => ({
          status: r.statusCode,
          body: await r.body.text(),
        })),
      );
      await waitForStarted(base, agent);
      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));

      // After the signal: either refused at connect (listener closed) or 503 on a kept-alive socket.
      const late = await request(`${base}/health/live`, { dispatcher: new Agent() }).then(
        (r) => r.statusCode,
        (error: Error & { code?: string }) => error.code,
      );
      expect(['ECONNREFUSED', 503]).toContain(late);

      const answers = await Promise.all(inFlight);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(100);
      expect(answers.every((a) => a.body === '{"slept":1500}')).toBe(true);
      const exit = await server.exited;
      expect(exit, server.output()).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(server.output()).toContain('stopped');
    } finally {
      await agent.close();
      server.child.kill('SIGKILL');
    }
  });
});

/** Waits until the server is handling slow requests (the metrics endpoint shows none finished yet). */
async function waitForStarted(base: string, agent: Agent): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const response = await request(`${base}/health/live`, { dispatcher: agent });
  await response.body.text();
}
