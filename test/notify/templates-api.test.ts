import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/platform/db/client.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { makeStaff, signIn } from '../identity/staff/harness.ts';
import {
  createAccount,
  createTestDatabase,
  type TestDatabase,
  tokenFor,
} from '../identity/tokens/harness.ts';
import { startNotifyApi } from './harness.ts';

let db: TestDatabase;
let running: Running;
let app: FastifyInstance;
let admin: string;
let readonly: string;
let user: string;

async function bearer(role: 'ADMIN' | 'USER' | 'READONLY') {
  const account = await createAccount(db, role, { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } });
  return `Bearer ${await tokenFor(app, account)}`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  running = await startNotifyApi(db);
  app = running.app!;
  admin = await bearer('ADMIN');
  readonly = await bearer('READONLY');
  user = await bearer('USER');
});

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

type Method = 'GET' | 'POST' | 'PUT';
const call = (method: Method, url: string, payload?: unknown, token: string | null = admin) =>
  app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload: payload as object }),
    headers: token ? { authorization: token } : {},
  });

const confirmation = (overrides: Record<string, unknown> = {}) => ({
  name: 'Order confirmed',
  variables: [
    { name: 'user', required: true, sample: { first_name: 'Анна' } },
    { name: 'order', required: true },
    { name: 'promo' },
  ],
  channels: {
    email: {
      subject: 'Order {{ order.id }}',
      html: '<p>Hi {{ user.first_name }}</p>\n<p>Order {{ order.id }}</p>{% if promo %}<p>{{ promo }}</p>{% endif %}',
    },
    sms: { text: 'Order {{ order.id }} confirmed' },
  },
  ...overrides,
});

async function create(id: string, body: Record<string, unknown> = confirmation()) {
  const response = await call('POST', '/api/templates', { id, ...body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('create, get, list', () => {
  it('creates version 1 and returns the definition with the SMS cost', async () => {
    const body = await create('order-confirmed');
    expect(body).toMatchObject({
      id: 'order-confirmed',
      name: 'Order confirmed',
      description: null,
      current_version: 1,
      versions: 1,
      definition: { variables: confirmation().variables, channels: confirmation().channels },
      // 'Order  confirmed' from the sample render (order has no sample: null): 16 GSM-7 septets.
      sms_segments: { encoding: 'GSM-7', segments: 1, units: 16, basis: 'sample' },
    });
    expect(new Date(body.created_at).getTime()).not.toBeNaN();

    const got = await call('GET', '/api/templates/order-confirmed', undefined, readonly);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(body);

    const [audit] = await db.sql`
      select action, resource, metadata from audit_log where resource = 'template:order-confirmed'`;
    expect(audit).toEqual({
      action: 'template.create',
      resource: 'template:order-confirmed',
      metadata: { version: 1 },
    });
  });

  it('generates an id when none is given and refuses a taken one', async () => {
    const generated = await call('POST', '/api/templates', confirmation());
    expect(generated.statusCode).toBe(201);
    expect(generated.json().id).toMatch(/^tpl_[0-9a-f]{16}$/);

    await create('taken');
    const again = await call('POST', '/api/templates', { id: 'taken', ...confirmation() });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('NOTIFY_TEMPLATE_EXISTS');
  });

  it('answers 404 for an unknown template', async () => {
    const response = await call('GET', '/api/templates/nope');
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('NOTIFY_TEMPLATE_NOT_FOUND');
  });

  it('lists by id with a cursor', async () => {
    for (const id of ['list-a', 'list-b', 'list-c']) await create(id);
    const seen: string[] = [];
    let after: string | null = 'list-';
    while (after !== null) {
      const page = await call('GET', `/api/templates?limit=2&after=${after}`, undefined, readonly);
      expect(page.statusCode).toBe(200);
      const body = page.json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((t: { id: string }) => t.id));
      after = body.next_after;
    }
    expect(seen.filter((id) => id.startsWith('list-'))).toEqual(['list-a', 'list-b', 'list-c']);
    expect(seen).toEqual([...seen].sort());
  });
});

describe('validation at save', () => {
  it('refuses a part that does not parse, naming the part and line', async () => {
    const response = await call('POST', '/api/templates', {
      ...confirmation(),
      channels: { email: { subject: 'Hi', html: '<p>\n{% if user %}\nno end' } },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('NOTIFY_TEMPLATE_INVALID');
    expect(body.message).toContain('email.html line 2');
    expect(body.details.problems).toEqual([
      expect.objectContaining({ channel: 'email', part: 'html', kind: 'parse', line: 2 }),
    ]);
  });

  it('refuses an undeclared variable, naming it, its part and line', async () => {
    const response = await call('POST', '/api/templates', {
      ...confirmation({ name: 'undeclared-check' }),
      channels: { sms: { text: 'Hi {{ user.first_name }}\n{{ evnt.title }}' } },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('NOTIFY_TEMPLATE_INVALID');
    expect(body.message).toContain('sms.text line 2');
    expect(body.message).toContain('"evnt"');
    expect(body.details.problems).toEqual([
      expect.objectContaining({
        channel: 'sms',
        part: 'text',
        kind: 'undeclared',
        variable: 'evnt',
        line: 2,
      }),
    ]);
    // Nothing was stored.
    const stored = await db.sql`select 1 from notify_templates where name = 'undeclared-check'`;
    expect(stored).toHaveLength(0);
  });

  it('refuses an update that does not validate, keeping the current version', async () => {
    await create('stays');
    const response = await call('PUT', '/api/templates/stays', {
      ...confirmation(),
      channels: { push: { title: '{{ nobody }}', body: 'x' } },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toContain('"nobody"');
    expect((await call('GET', '/api/templates/stays')).json().current_version).toBe(1);
  });
});

describe('versions', () => {
  it('saves every PUT as a new immutable version, listed newest first', async () => {
    const v1 = await create('versioned');
    const put = (html: string, note?: string) =>
      call('PUT', '/api/templates/versioned', {
        ...confirmation({ note }),
        channels: { email: { subject: 'Order {{ order.id }}', html } },
      });
    const v2 = await put('<p>v2 {{ user.first_name }}</p>', 'second');
    expect(v2.statusCode, v2.body).toBe(200);
    expect(v2.json()).toMatchObject({ current_version: 2, versions: 2 });
    expect(v2.json().sms_segments).toBeUndefined();
    const v3 = await put('<p>v3</p>\n<p>{{ order.id }}</p>');
    expect(v3.json().current_version).toBe(3);

    const one = await call('GET', '/api/templates/versioned/versions/1', undefined, readonly);
    expect(one.statusCode).toBe(200);
    expect(one.json().definition).toEqual(v1.definition);

    const list = await call('GET', '/api/templates/versioned/versions', undefined, readonly);
    expect(list.statusCode).toBe(200);
    const versions = list.json();
    expect(versions.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect(versions[1]).toMatchObject({
      note: 'second',
      created_by: expect.stringMatching(/^service_account:/),
    });

    const audits = await db.sql`
      select action, metadata from audit_log where resource = 'template:versioned' order by id`;
    expect(audits.map((a) => [a.action, a.metadata.version])).toEqual([
      ['template.create', 1],
      ['template.update', 2],
      ['template.update', 3],
    ]);

    const missing = await call('GET', '/api/templates/versioned/versions/9');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOTIFY_VERSION_NOT_FOUND');
  });

  it('diffs two versions part by part, with variables added and removed', async () => {
    await create('diffed');
    await call('PUT', '/api/templates/diffed', confirmation({ name: 'renamed' }));
    const v3 = await call('PUT', '/api/templates/diffed', {
      name: 'renamed',
      variables: [{ name: 'user', required: true }, { name: 'order', required: true }, { name: 'venue' }],
      channels: {
        email: {
          subject: 'Order {{ order.id }}',
          html: '<p>Hi {{ user.first_name }}</p>\n<p>Order {{ order.id }} at {{ venue }}</p>',
        },
        push: { title: 'Order {{ order.id }}', body: 'Confirmed' },
      },
    });
    expect(v3.statusCode, v3.body).toBe(200);

    const response = await call('GET', '/api/templates/diffed/diff?from=1&to=3', undefined, readonly);
    expect(response.statusCode, response.body).toBe(200);
    const diff = response.json();
    expect(diff).toMatchObject({ template_id: 'diffed', from: 1, to: 3 });
    expect(diff.variables).toEqual({ added: ['venue'], removed: ['promo'], changed: ['user'] });
    expect(diff.channels.push.status).toBe('added');
    expect(diff.channels.sms).toEqual({
      status: 'removed',
      parts: [{ part: 'text', changes: [{ op: 'remove', lines: ['Order {{ order.id }} confirmed'] }] }],
    });
    expect(diff.channels.email.status).toBe('changed');
    expect(diff.channels.email.parts.map((p: { part: string }) => p.part)).toEqual(['html']);
    expect(diff.channels.email.parts[0].changes).toEqual([
      { op: 'same', lines: ['<p>Hi {{ user.first_name }}</p>'] },
      {
        op: 'remove',
        lines: ['<p>Order {{ order.id }}</p>{% if promo %}<p>{{ promo }}</p>{% endif %}'],
      },
      { op: 'add', lines: ['<p>Order {{ order.id }} at {{ venue }}</p>'] },
    ]);

    const same = (await call('GET', '/api/templates/diffed/diff?from=1&to=2')).json();
    expect(same.channels.email).toEqual({ status: 'same', parts: [] });

    const missing = await call('GET', '/api/templates/diffed/diff?from=1&to=7');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOTIFY_VERSION_NOT_FOUND');
  });

  it('rolls back by making a new version equal to the old one', async () => {
    const v1 = await create('rolled');
    await call('PUT', '/api/templates/rolled', {
      ...confirmation(),
      channels: { sms: { text: 'changed {{ order.id }}' } },
    });
    const response = await call('POST', '/api/templates/rolled/rollback', { version: 1 });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ current_version: 3, versions: 3, definition: v1.definition });

    const [latest] = (await call('GET', '/api/templates/rolled/versions')).json();
    expect(latest).toMatchObject({ version: 3, note: 'rollback to 1' });
    const [audit] = await db.sql`
      select metadata from audit_log where resource = 'template:rolled' and action = 'template.rollback'`;
    expect(audit!.metadata).toEqual({ version: 3 });

    const missing = await call('POST', '/api/templates/rolled/rollback', { version: 42 });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOTIFY_VERSION_NOT_FOUND');
    expect((await call('GET', '/api/templates/rolled')).json().current_version).toBe(3);
  });
});

describe('render preview', () => {
  it('renders every channel, samples filling what is not given and absent optionals as empty', async () => {
    await create('preview');
    const response = await call('POST', '/api/templates/preview/render', {
      variables: { order: { id: 77 } },
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ template_id: 'preview', version: 1 });
    expect(body.channels.email).toMatchObject({
      subject: 'Order 77',
      html: '<p>Hi Анна</p>\n<p>Order 77</p>',
    });
    expect(body.channels.email.text).toContain('Order 77');
    expect(body.channels.sms).toEqual({
      text: 'Order 77 confirmed',
      encoding: 'GSM-7',
      segments: 1,
      units: 18,
    });
  });

  it('renders one channel of an older version, escaping HTML', async () => {
    await create('preview-old');
    await call('PUT', '/api/templates/preview-old', {
      ...confirmation(),
      channels: { sms: { text: 'v2' } },
    });
    const response = await call('POST', '/api/templates/preview-old/render', {
      version: 1,
      channel: 'email',
      variables: { order: { id: 1 }, user: { first_name: '<b>' }, promo: 'Скидка' },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(Object.keys(response.json().channels)).toEqual(['email']);
    expect(response.json().channels.email.html).toBe('<p>Hi &lt;b&gt;</p>\n<p>Order 1</p><p>Скидка</p>');

    const noEmail = await call('POST', '/api/templates/preview-old/render', {
      channel: 'email',
      variables: { order: { id: 1 } },
    });
    expect(noEmail.statusCode).toBe(400);
    expect(noEmail.json().code).toBe('NOTIFY_CHANNEL_MISSING');
  });

  it('refuses a missing required variable, naming it', async () => {
    await create('preview-missing');
    const response = await call('POST', '/api/templates/preview-missing/render', { variables: {} });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      code: 'NOTIFY_VARIABLES_INVALID',
      details: { missing: ['order'] },
    });
    expect(response.json().message).toContain('order');
  });

  it('answers 400, not 500, for values the template cannot render', async () => {
    await create('preview-shape');
    const response = await call('POST', '/api/templates/preview-shape/render', {
      variables: { order: { number: 1 } },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('NOTIFY_VARIABLES_INVALID');
    expect(response.json().message).toContain('order.id');
  });
});

async function currentVersion(sql: Queryable, id: string): Promise<number> {
  const [row] = await sql<{ current_version: number }[]>`
    select current_version from notify_templates where id = ${id}`;
  return row!.current_version;
}

describe('concurrent saves', () => {
  it('control: numbering versions without the row lock collides', async () => {
    await create('race-control');
    // What a save without `for update` would do: two transactions read the same current version.
    let releaseA!: () => void;
    const aRead = new Promise<void>((resolve) => {
      releaseA = resolve;
    });
    const a = db.sql.begin(async (tx) => {
      const current = await currentVersion(tx, 'race-control');
      await aRead;
      await tx`insert into notify_template_versions (template_id, version, definition)
               values ('race-control', ${current + 1}, '{}')`;
    });
    const b = db.sql.begin(async (tx) => {
      const current = await currentVersion(tx, 'race-control');
      releaseA();
      await a;
      await tx`insert into notify_template_versions (template_id, version, definition)
               values ('race-control', ${current + 1}, '{}')`;
    });
    await expect(b).rejects.toThrow(/duplicate key/);
  });

  it('parallel PUTs get consecutive versions, never a duplicate or a 500', async () => {
    await create('race');
    const parallel = 8;
    const responses = await Promise.all(
      Array.from({ length: parallel }, (_, i) =>
        call('PUT', '/api/templates/race', { ...confirmation(), note: `put ${i}` }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(parallel).fill(200));
    const returned = responses.map((r) => r.json().current_version).sort((x, y) => x - y);
    expect(returned).toEqual(Array.from({ length: parallel }, (_, i) => i + 2));

    const rows = await db.sql`
      select version, note from notify_template_versions where template_id = 'race' order by version`;
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: parallel + 1 }, (_, i) => i + 1));
    expect(new Set(rows.slice(1).map((r) => r.note)).size).toBe(parallel);
    expect(await currentVersion(db.sql, 'race')).toBe(parallel + 1);
  });
});

describe('access', () => {
  it('lets readers read but not write; no token is 401', async () => {
    await create('guarded');
    for (const token of [readonly, user]) {
      expect((await call('GET', '/api/templates/guarded', undefined, token)).statusCode).toBe(200);
      expect((await call('GET', '/api/templates/guarded/versions', undefined, token)).statusCode).toBe(200);
      expect(
        (await call('GET', '/api/templates/guarded/diff?from=1&to=1', undefined, token)).statusCode,
      ).toBe(200);
      expect(
        (await call('POST', '/api/templates', { id: 'guarded-2', ...confirmation() }, token)).statusCode,
      ).toBe(403);
      expect((await call('PUT', '/api/templates/guarded', confirmation(), token)).statusCode).toBe(403);
      expect((await call('POST', '/api/templates/guarded/rollback', { version: 1 }, token)).statusCode).toBe(
        403,
      );
      expect((await call('POST', '/api/templates/guarded/render', {}, token)).statusCode).toBe(403);
    }
    for (const [method, url] of [
      ['GET', '/api/templates'],
      ['GET', '/api/templates/guarded'],
      ['POST', '/api/templates'],
      ['PUT', '/api/templates/guarded'],
    ] as const) {
      const response = await call(method, url, method === 'GET' ? undefined : confirmation(), null);
      expect(response.statusCode).toBe(401);
    }
    expect((await call('GET', '/api/templates/guarded')).json().current_version).toBe(1);
  });
});

describe('openapi', () => {
  it('documents every template route under Notify', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const ops = Object.entries(doc.paths as Record<string, Record<string, { tags?: string[] }>>)
      .filter(([path]) => path.startsWith('/api/templates'))
      .flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => [`${m} ${path}`, op.tags]));
    expect(Object.fromEntries(ops)).toEqual({
      'post /api/templates': ['Notify'],
      'get /api/templates': ['Notify'],
      'get /api/templates/{id}': ['Notify'],
      'put /api/templates/{id}': ['Notify'],
      'get /api/templates/{id}/versions': ['Notify'],
      'get /api/templates/{id}/versions/{version}': ['Notify'],
      'get /api/templates/{id}/diff': ['Notify'],
      'post /api/templates/{id}/rollback': ['Notify'],
      'post /api/templates/{id}/render': ['Notify'],
    });
  });
});

describe('staff', () => {
  it('an analyst reads but may not save; a manager saves, recorded as staff', async () => {
    await create('staff-owned');
    const analyst = await signIn(running, await makeStaff(db.sql, 'analyst'));
    const manager = await signIn(running, await makeStaff(db.sql, 'manager'));
    const get = { method: 'GET' as const, url: '/api/templates/staff-owned' };
    const put = { method: 'PUT' as const, url: '/api/templates/staff-owned', payload: confirmation() };
    expect((await analyst.send(running, get)).statusCode).toBe(200);
    const refused = await analyst.send(running, put);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().message).toContain('notify:manage');

    const saved = await manager.send(running, put);
    expect(saved.statusCode, saved.body).toBe(200);
    const [latest] = (await call('GET', '/api/templates/staff-owned/versions')).json();
    expect(latest).toMatchObject({ version: 2, created_by: expect.stringMatching(/^staff:\d+$/) });
    const [audit] = await db.sql`
      select actor_type from audit_log where resource = 'template:staff-owned' and action = 'template.update'`;
    expect(audit!.actor_type).toBe('staff');
  });
});

describe('bad input is a 400, never a 500', () => {
  it.each([
    [
      'an unknown field',
      'POST',
      '/api/templates',
      { ...confirmation(), colour: 'red' },
      /colour|additional/i,
    ],
    [
      'an unknown channel',
      'POST',
      '/api/templates',
      { ...confirmation(), channels: { fax: { text: 'x' } } },
      /fax|additional/i,
    ],
    ['no channel', 'POST', '/api/templates', { ...confirmation(), channels: {} }, /channel|properties/i],
    ['a bad id', 'POST', '/api/templates', { id: 'Bad Id!', ...confirmation() }, /id/],
    [
      'a bad variable name',
      'POST',
      '/api/templates',
      { ...confirmation(), variables: [{ name: '1x' }] },
      /name/,
    ],
    ['a number as the name', 'POST', '/api/templates', { ...confirmation(), name: 5 }, /name/],
    ['version 0 in a rollback', 'POST', '/api/templates/bad-input/rollback', { version: 0 }, /version/],
    [
      'a string version in a rollback',
      'POST',
      '/api/templates/bad-input/rollback',
      { version: '1' },
      /version/,
    ],
    ['an unknown render field', 'POST', '/api/templates/bad-input/render', { vars: {} }, /vars|additional/i],
    ['a bad render channel', 'POST', '/api/templates/bad-input/render', { channel: 'fax' }, /channel/],
    ['a bad id in the path', 'GET', '/api/templates/Bad%20Id', undefined, /id/],
    ['version 0 in the path', 'GET', '/api/templates/bad-input/versions/0', undefined, /version/],
    ['a diff without to', 'GET', '/api/templates/bad-input/diff?from=1', undefined, /to/],
    ['a diff from 0', 'GET', '/api/templates/bad-input/diff?from=0&to=1', undefined, /from/],
    ['a list limit of 0', 'GET', '/api/templates?limit=0', undefined, /limit/],
  ] as const)('%s', async (_label, method, url, payload, message) => {
    const response = await call(method, url, payload);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().message).toMatch(message);
  });

  it('refuses a variable declared twice', async () => {
    const response = await call('POST', '/api/templates', {
      ...confirmation(),
      variables: [{ name: 'order' }, { name: 'order' }],
      channels: { sms: { text: '{{ order }}' } },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      code: 'NOTIFY_TEMPLATE_INVALID',
      message: expect.stringContaining('order'),
    });
  });
});
