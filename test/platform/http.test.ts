import { connect } from 'node:net';
import type { InjectOptions } from 'fastify';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject as injectContext, it } from 'vitest';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { fixtureModule } from '../fixtures/fixture-module.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

describe('http app', () => {
  let db: TestDatabase;
  let running: Running;
  beforeAll(async () => {
    db = await createTestDatabase();
    running = await runRole(
      'api',
      testConfig({ DATABASE_URL: db.url, BODY_LIMIT_BYTES: '2048', CORS_ORIGINS: 'https://shop.example' }),
      pino({ level: 'silent' }),
      [fixtureModule],
    );
  });
  afterAll(async () => {
    await running.stop();
    await db.drop();
  });
  const inject = (options: InjectOptions) => running.app!.inject(options);

  it('applies schema defaults and coerces query types', async () => {
    const response = await inject({ method: 'GET', url: '/fixture/items?page=3' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ page: 3, pageSize: 20 });
  });

  it.each([
    ['/fixture/items?pageSize=21', /querystring\/pageSize must be <= 20/],
    ['/fixture/items?page=abc', /querystring\/page must be integer/],
    ['/fixture/items?page=0', /querystring\/page must be >= 1/],
  ])('answers bad input %s with 400 and a message saying what was wrong', async (url, message) => {
    const response = await inject({ method: 'GET', url });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.message).toMatch(message);
    expect(body.requestId).toBe(response.headers['x-request-id']);
  });

  it('answers malformed JSON, a missing field and a wrong media type with 4xx', async () => {
    const badJson = await inject({
      method: 'POST',
      url: '/fixture/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().code).toBe('BAD_REQUEST');
    const missing = await inject({ method: 'POST', url: '/fixture/echo', payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toMatch(/must have required property 'name'/);
    const xml = await inject({
      method: 'POST',
      url: '/fixture/echo',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a body over the limit with 413', async () => {
    const response = await inject({
      method: 'POST',
      url: '/fixture/echo',
      payload: { name: 'x'.repeat(4096) },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('turns a domain error into its status with its code and details', async () => {
    const response = await inject({ method: 'GET', url: '/fixture/conflict' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({
      code: 'FIXTURE_TAKEN',
      message: 'That one is taken',
      details: { id: 7 },
    });
  });

  it('answers an unexpected failure with 500 that names the request, not the internals', async () => {
    const response = await inject({ method: 'GET', url: '/fixture/crash' });
    expect(response.statusCode).toBe(500);
    const body = response.json();
    expect(body.code).toBe('INTERNAL');
    expect(response.body).not.toContain('secret internal detail');
    expect(body.message).toContain(body.requestId);
  });

  it('answers a request the HTTP parser refuses with 400 in the same shape, saying why', async () => {
    const { port } = new URL(running.url!);
    const raw = await new Promise<string>((resolve, reject) => {
      let answer = '';
      const socket = connect(Number(port), '127.0.0.1', () => {
        // Raw UTF-8 in the request line, as `curl 'http://…?query=концерт'` sends it.
        socket.write(
          Buffer.concat([
            Buffer.from('GET /fixture/items?q='),
            Buffer.from('к'),
            Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
          ]),
        );
      });
      socket.on('data', (chunk) => {
        answer += chunk;
      });
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    expect(body).toEqual({
      code: 'BAD_REQUEST',
      message:
        'Malformed HTTP request: Invalid char in url query (characters outside ASCII must be percent-encoded in a URL)',
    });
  });

  it('answers unknown routes with 404 in the same error shape', async () => {
    const response = await inject({ method: 'GET', url: '/no/such/thing?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({
      code: 'NOT_FOUND',
      message: 'Route GET /no/such/thing not found',
    });
  });

  it('keeps a sane caller-supplied request id and replaces an unsafe one', async () => {
    const kept = await inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers['x-request-id']).toBe('abc-123');
    const replaced = await inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'a b\u0000' },
    });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const another = await inject({ method: 'GET', url: '/health/live' });
    expect(another.headers['x-request-id']).not.toBe(replaced.headers['x-request-id']);
  });

  it('sends security headers and honours the CORS allow-list', async () => {
    const allowed = await inject({
      method: 'GET',
      url: '/health/live',
      headers: { origin: 'https://shop.example' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(allowed.headers['x-content-type-options']).toBe('nosniff');
    const other = await inject({
      method: 'GET',
      url: '/health/live',
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('describes every module route in /openapi.json', async () => {
    const spec = (await inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.openapi).toBe('3.1.0');
    expect(spec.paths['/fixture/items'].get.parameters.map((p: { name: string }) => p.name)).toEqual([
      'page',
      'pageSize',
    ]);
    expect(spec.paths['/health/ready']).toBeDefined();
    expect(spec.paths['/metrics']).toBeUndefined();
  });

  it('counts requests by route template, not raw URL, in /metrics', async () => {
    await inject({ method: 'GET', url: '/fixture/items?page=2' });
    await inject({ method: 'GET', url: '/definitely/unknown/123' });
    const metrics = (await inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/http_requests_total\{method="GET",route="\/fixture\/items",status="200"\} \d+/);
    expect(metrics).toMatch(
      /http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/fixture\/items",status="200"\}/,
    );
    expect(metrics).not.toContain('/definitely/unknown/123');
    expect(metrics).toMatch(/db_pool_connections\{state="(active|idle)"\} \d+/);
    expect(metrics).toContain('nodejs_eventloop_lag_seconds');
    expect(metrics).toContain('process_resident_memory_bytes');
  });

  it('reports not ready, naming the database, when it cannot be reached', async () => {
    expect((await inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    // Refuse new sessions and cut this process's open ones from the server side.
    const admin = postgres(injectContext('adminUrl'), { max: 1, onnotice: () => {} });
    const name = admin(new URL(db.url).pathname.slice(1));
    await admin`alter database ${name} with allow_connections false`;
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${`boxoffice:${process.pid}`}`;
    try {
      const response = await inject({ method: 'GET', url: '/health/ready' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({
        status: 'unavailable',
        checks: { database: expect.stringMatching(/^down: /) },
      });
    } finally {
      await admin`alter database ${name} with allow_connections true`;
      await admin.end();
    }
    expect((await inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });
});
