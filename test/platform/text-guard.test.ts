import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { findUnstorableText } from '../../src/platform/storable-text.ts';
import { Client } from '../booking/harness.ts';
import { fixtureModule } from '../fixtures/fixture-module.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * The platform's guard against text PostgreSQL cannot store, over real HTTP, on a fixture route that sends
 * every string of the request to PostgreSQL: without the guard a NUL is a 500 from the database and a lone
 * surrogate is silently stored as U+FFFD. The Biletter routes themselves: test/booking/text-input.test.ts.
 */
describe('text PostgreSQL cannot store', () => {
  let db: TestDatabase;
  let running: Running;
  let client: Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    running = await runRole(
      'api',
      testConfig({ DATABASE_URL: db.url }),
      pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      [fixtureModule],
    );
    client = new Client(running.url!);
  });
  afterAll(async () => {
    client?.close();
    await running?.stop();
    await db?.drop();
  });

  const expect400 = (
    answer: { status: number; json(): { code: string; message: string } },
    message: RegExp,
  ) => {
    expect(answer.status).toBe(400);
    const body = answer.json();
    expect(body).toMatchObject({ code: 'VALIDATION_FAILED', requestId: expect.any(String) });
    expect(body.message).toMatch(message);
  };

  it('stores ordinary text, Cyrillic, emoji and a literal %00 (the control)', async () => {
    const answer = await client.send(
      'POST',
      '/fixture/store/%D0%BA%D0%BE%D0%BD%D1%86%D0%B5%D1%80%D1%82?a=%2500',
      {
        body: { title: 'Лето 🎉', tags: ['a', { deep: 'b' }] },
      },
    );
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ stored: 10, changed: 0 });
  });

  it.each([
    [
      'a NUL in a query parameter',
      'GET',
      '/fixture/store/x?id=%E2%82&orderId=%00',
      undefined,
      /^querystring\/orderId must not contain a NUL/,
    ],
    [
      'a NUL in a query parameter name',
      'GET',
      '/fixture/store/x?%00=1',
      undefined,
      /^querystring has a property name that must not contain a NUL/,
    ],
    [
      'a NUL in a route param',
      'GET',
      '/fixture/store/a%00b',
      undefined,
      /^params\/name must not contain a NUL/,
    ],
    [
      'a NUL in a JSON string',
      'POST',
      '/fixture/store/x',
      '{"name":"a\\u0000b"}',
      /^body\/name must not contain a NUL/,
    ],
    [
      'a NUL in a nested JSON string',
      'POST',
      '/fixture/store/x',
      '{"a":[1,{"b":["ok","\\u0000"]}]}',
      /^body\/a\/1\/b\/1 must not contain a NUL/,
    ],
    [
      'a lone surrogate in a JSON string',
      'POST',
      '/fixture/store/x',
      '{"name":"\\ud800"}',
      /^body\/name must be valid Unicode/,
    ],
    [
      'a NUL in a JSON body that is a string',
      'POST',
      '/fixture/store/x',
      '"\\u0000"',
      /^body must not contain a NUL/,
    ],
  ])('answers %s with 400 naming it', async (_case, method, path, raw, message) => {
    expect400(await client.send(method, path, raw === undefined ? {} : { raw }), message);
  });

  it('answers a NUL in a form body with 400 naming the field', async () => {
    const answer = await client.send('POST', '/fixture/store/x', {
      raw: 'title=ok&note=a%00b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect400(answer, /^body\/note must not contain a NUL/);
  });

  it('walks a deeply nested body without overflowing the stack', async () => {
    const depth = 100_000;
    const raw = `${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}`;
    expect(findUnstorableText(JSON.parse(raw), 'body')).toMatch(/must not contain a NUL/);
  });
});
