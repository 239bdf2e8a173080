import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/platform/runtime.ts';
import {
  createAccount,
  createTestDatabase,
  type TestDatabase,
  tokenFor,
} from '../identity/tokens/harness.ts';
import { startNotifyApi } from './harness.ts';

/** `POST /api/templates/{id}/render` with a draft `definition`: the editor's live preview (issue #14). */

let db: TestDatabase;
let running: Running;
let app: FastifyInstance;
let admin: string;
let readonly: string;

async function bearer(role: 'ADMIN' | 'READONLY') {
  const account = await createAccount(db, role, { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } });
  return `Bearer ${await tokenFor(app, account)}`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  running = await startNotifyApi(db);
  app = running.app!;
  admin = await bearer('ADMIN');
  readonly = await bearer('READONLY');
  const created = await call('POST', '/api/templates', {
    id: 'draft',
    name: 'Draft',
    variables: [{ name: 'name', sample: 'Анна' }],
    channels: {
      email: { subject: 'Hi {{ name }}', html: '<p>Hi {{ name }}</p>' },
      sms: { text: 'Hi {{ name }}' },
    },
  });
  expect(created.statusCode).toBe(201);
});

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

const call = (method: 'GET' | 'POST', url: string, payload?: unknown, token: string | null = admin) =>
  app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload: payload as object }),
    headers: token ? { authorization: token } : {},
  });

const draft = (html: string) => ({
  variables: [{ name: 'name', sample: 'Bob' }, { name: 'city' }],
  channels: {
    email: { subject: 'Hello {{ name }}', html },
    sms: { text: 'Hello {{ name }} from {{ city }}' },
  },
});

describe('render of a draft definition', () => {
  it('renders the draft with its own samples and stores nothing', async () => {
    const response = await call('POST', '/api/templates/draft/render', {
      definition: draft('<p>Hello {{ name }} & {{ city }}</p>'),
      variables: { city: '<Riga>' },
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.version).toBeNull();
    expect(body.channels.email).toMatchObject({
      subject: 'Hello Bob',
      html: '<p>Hello Bob & &lt;Riga&gt;</p>',
    });
    expect(body.channels.sms).toMatchObject({
      text: 'Hello Bob from <Riga>',
      encoding: 'GSM-7',
      segments: 1,
    });
    const versions = await call('GET', '/api/templates/draft/versions');
    expect(versions.json()).toHaveLength(1);
  });

  it('answers 400 NOTIFY_TEMPLATE_INVALID with part, line, column and variable for a bad draft', async () => {
    const response = await call('POST', '/api/templates/draft/render', {
      definition: draft('<p>Hello</p>\n<p>{{ nobody }}</p>'),
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('NOTIFY_TEMPLATE_INVALID');
    expect(body.details.problems).toEqual([
      expect.objectContaining({
        channel: 'email',
        part: 'html',
        kind: 'undeclared',
        variable: 'nobody',
        line: 2,
      }),
    ]);
    const broken = await call('POST', '/api/templates/draft/render', {
      definition: draft('<p>{% if name %}open</p>'),
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().details.problems[0]).toMatchObject({ part: 'html', kind: 'parse', line: 1 });
  });

  it('refuses a draft together with a version, and a draft of a template that does not exist', async () => {
    const both = await call('POST', '/api/templates/draft/render', { version: 1, definition: draft('<p/>') });
    expect(both.statusCode).toBe(400);
    expect(both.json().code).toBe('VALIDATION_FAILED');
    const missing = await call('POST', '/api/templates/nope/render', { definition: draft('<p/>') });
    expect(missing.statusCode).toBe(404);
    const unknownField = await call('POST', '/api/templates/draft/render', {
      definition: { ...draft('<p/>'), name: 'x' },
    });
    expect(unknownField.statusCode).toBe(400);
  });

  it('needs notify:manage like every render: 401 without credentials, 403 for READONLY', async () => {
    const body = { definition: draft('<p/>') };
    expect((await call('POST', '/api/templates/draft/render', body, null)).statusCode).toBe(401);
    expect((await call('POST', '/api/templates/draft/render', body, readonly)).statusCode).toBe(403);
  });
});
