import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, spawnNode, waitForOk } from '../helpers/process.ts';

describe('boot', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('an invalid variable stops the process at once with one line naming it', async () => {
    const started = Date.now();
    const run = spawnNode(['start'], { PORT: 'abc' });
    const { code } = await run.exited;
    expect(code).toBe(78);
    expect(Date.now() - started).toBeLessThan(10_000);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^boxoffice: Invalid configuration: PORT="abc" is invalid/);
  });

  it('an unreachable DATABASE_URL stops the process within 10 s, naming the variable', async () => {
    const port = await freePort(); // nothing listens there
    const started = Date.now();
    const run = spawnNode(['start'], {
      DATABASE_URL: `postgres://u:secret@127.0.0.1:${port}/x`,
      DB_CONNECT_TIMEOUT_SECONDS: '3',
      LOG_LEVEL: 'silent',
    });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(run.output()).toMatch(
      /^boxoffice: DATABASE_URL: cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1/,
    );
    expect(run.output()).not.toContain('secret');
  });

  it('an unknown command prints the help and exits 2', async () => {
    const run = spawnNode(['frobnicate'], {});
    expect((await run.exited).code).toBe(2);
    expect(run.output()).toContain('unknown command "frobnicate"');
    expect(run.output()).toContain('Commands:');
  });

  it('every command explains itself with --help', async () => {
    for (const command of ['start', 'api', 'worker', 'migrate', 'jobs']) {
      const run = spawnNode([command, '--help'], {});
      expect((await run.exited).code).toBe(0);
      expect(run.output()).toContain(`boxoffice ${command}`);
    }
  });

  it('starts against DATABASE_URL, serves /health/ready, /docs and /metrics, and stops on SIGTERM with 0', async () => {
    const port = await freePort();
    // Any free contest port: 8080 may be taken on a developer's machine.
    const run = spawnNode(['start'], {
      DATABASE_URL: db.url,
      PORT: String(port),
      DROPS_CONTEST_PORT: '0',
      SIM_GATEWAY_PORT: '0',
      LOG_LEVEL: 'warn',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForOk(`${base}/health/ready`);
    expect(await (await fetch(`${base}/health/ready`)).json()).toEqual({
      status: 'ready',
      checks: { database: 'up' },
    });
    expect((await fetch(`${base}/docs`)).status).toBe(200);
    // The document covers every registered module's routes.
    const openapi = await fetch(`${base}/openapi.json`);
    expect(openapi.status).toBe(200);
    const spec = (await openapi.json()) as { paths: object; components: { securitySchemes: object } };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/events', '/health/ready']));
    expect(spec.components.securitySchemes).toHaveProperty(['basicAuth']);
    expect((spec.components.securitySchemes as { basicAuth: unknown }).basicAuth).toEqual({
      type: 'http',
      scheme: 'basic',
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('http_requests_total{method="GET",route="/health/ready",status="200"}');
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
  });
});
