import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fanOutBatch, runCampaigns } from '../../src/notify/campaigns.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { spawnNode } from '../helpers/process.ts';
import { type Browser, makeStaff, signIn } from '../identity/staff/harness.ts';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import { startNotifyApi } from './harness.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/fanout-crash.ts', import.meta.url));

let db: TestDatabase;
let running: Running;
let app: FastifyInstance;
let admin: string;
let analyst: Browser;
let manager: Browser;

/** Users 101..125 are the campaign's audience (25); 200 is outside it. */
const AUDIENCE = Array.from({ length: 25 }, (_, i) => 101 + i);
const SEGMENT = { all: [{ user_ids: AUDIENCE }, { has_channel: 'email' }] };

async function insertTemplate(id: string, channels: Record<string, unknown>, version = 1) {
  const definition = {
    variables: [{ name: 'first_name' }, { name: 'promo', required: true }],
    channels,
  };
  await db.sql`
    insert into notify_templates (id, name, current_version) values (${id}, ${id}, ${version})
    on conflict (id) do update set current_version = excluded.current_version`;
  await db.sql`
    insert into notify_template_versions (template_id, version, definition)
    values (${id}, ${version}, ${db.sql.json(definition as never)})`;
}

const post = (url: string, payload?: object) =>
  app.inject({ method: 'POST', url, headers: { authorization: admin }, ...(payload ? { payload } : {}) });
const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: admin } });

async function createCampaign(name: string, extra: object = {}): Promise<number> {
  const response = await post('/api/admin/bulk', {
    name,
    segment: SEGMENT,
    template_id: 'spring',
    channel: 'email',
    variables: { promo: 'SPRING25' },
    ...extra,
  });
  expect(response.statusCode).toBe(201);
  return response.json().id;
}

async function deliveriesOf(campaignId: number) {
  return db.sql<{ recipient_key: string; status: string; user_id: string }[]>`
    select d.recipient_key, d.status, d.user_id::text from notify_deliveries d
    join notify_campaigns c on c.notification_id = d.notification_id
    where c.id = ${campaignId} order by d.user_id`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  running = await startNotifyApi(db);
  app = running.app!;
  const account = await createAccount(db, 'ADMIN', { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } });
  admin = `Bearer ${await tokenFor(app, account)}`;
  analyst = await signIn(running, await makeStaff(db.sql, 'analyst'));
  manager = await signIn(running, await makeStaff(db.sql, 'manager'));
  for (const id of [...AUDIENCE, 200])
    await db.sql`insert into users (id, email, password_hash, first_name)
                 values (${id}, ${`u${id}@example.test`}, 'x', ${`Name${id}`})`;
  await insertTemplate('spring', {
    email: { subject: 'Hi {{ first_name }}', html: '<p>Code {{ promo }}</p>' },
  });
});

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

describe('creating a campaign', () => {
  it('answers 201 {id, status: draft, recipients} with the segment’s size, and audits it', async () => {
    const response = await post('/api/admin/bulk', {
      name: 'Spring sale',
      segment: SEGMENT,
      template_id: 'spring',
      channel: 'email',
      variables: { promo: 'X' },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ status: 'draft', recipients: 25, send_at: null });
    const { id } = response.json();
    const [entry] = await db.sql`select action, metadata from audit_log where resource = ${`campaign:${id}`}`;
    expect(entry).toMatchObject({ action: 'campaign.create' });
  });

  it('refuses a missing template (404), a template without the channel (400), a bad segment (400)', async () => {
    const base = { name: 'x', segment: SEGMENT, template_id: 'spring', channel: 'email' };
    const noTemplate = await post('/api/admin/bulk', { ...base, template_id: 'nope' });
    expect(noTemplate.statusCode).toBe(404);
    expect(noTemplate.json().code).toBe('NOTIFY_TEMPLATE_NOT_FOUND');
    const noChannel = await post('/api/admin/bulk', { ...base, channel: 'sms' });
    expect(noChannel.statusCode).toBe(400);
    expect(noChannel.json().code).toBe('NOTIFY_CHANNEL_MISSING');
    const badSegment = await post('/api/admin/bulk', { ...base, segment: { all: [{ sql: 'true' }] } });
    expect(badSegment.statusCode).toBe(400);
    expect(badSegment.json()).toMatchObject({ code: 'NOTIFY_SEGMENT_INVALID' });
    expect(badSegment.json().message).toContain('segment.all[0].sql');
    const transactional = await post('/api/admin/bulk', { ...base, category: 'transactional' });
    expect(transactional.statusCode).toBe(400);
    const unknownField = await post('/api/admin/bulk', { ...base, audience: 'all' });
    expect(unknownField.statusCode).toBe(400);
  });

  it('lets an analyst read campaigns but not create, send, preview or cancel (403)', async () => {
    const id = await createCampaign('Role check');
    expect((await analyst.send(running, { method: 'GET', url: `/api/admin/bulk/${id}` })).statusCode).toBe(
      200,
    );
    expect((await analyst.send(running, { method: 'GET', url: '/api/admin/bulk' })).statusCode).toBe(200);
    for (const url of [
      '/api/admin/bulk',
      `/api/admin/bulk/${id}/send`,
      `/api/admin/bulk/${id}/preview`,
      `/api/admin/bulk/${id}/cancel`,
    ]) {
      const response = await analyst.send(running, { method: 'POST', url, payload: {} });
      expect(response.statusCode, url).toBe(403);
    }
    const byManager = await manager.send(running, {
      method: 'POST',
      url: `/api/admin/bulk/${id}/preview`,
      payload: {},
    });
    expect(byManager.statusCode).toBe(200);
  });
});

describe('the API description', () => {
  it('lists every bulk, contact and segment route in /openapi.json', async () => {
    const paths = (await app.inject({ method: 'GET', url: '/openapi.json' })).json().paths;
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/api/admin/bulk',
        '/api/admin/bulk/{id}',
        '/api/admin/bulk/{id}/send',
        '/api/admin/bulk/{id}/preview',
        '/api/admin/bulk/{id}/cancel',
        '/api/notify/contacts/{user_id}',
        '/api/notify/contacts/{user_id}/push-subscriptions',
        '/api/notify/contacts/{user_id}/push-subscriptions/{id}',
        '/api/notify/segments/estimate',
      ]),
    );
  });
});

describe('a campaign from draft to sent', () => {
  let id: number;

  it('previews the template for sample recipients', async () => {
    id = await createCampaign('Spring sale');
    const response = await post(`/api/admin/bulk/${id}/preview`, { sample: 2 });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      template_id: 'spring',
      version: 1,
      channel: 'email',
      samples: [
        expect.objectContaining({
          user_id: 101,
          recipient: 'u101@example.test',
          suppressed: null,
          error: null,
          parts: expect.objectContaining({ subject: 'Hi Name101', html: '<p>Code SPRING25</p>' }),
        }),
        expect.objectContaining({ user_id: 102, parts: expect.objectContaining({ subject: 'Hi Name102' }) }),
      ],
    });
    // Without a body: three samples.
    const noBody = await post(`/api/admin/bulk/${id}/preview`);
    expect(noBody.statusCode, noBody.body).toBe(200);
    expect(noBody.json().samples).toHaveLength(3);
  });

  it('sends: pins the version, enqueues the fan-out job, and the fan-out makes one pending delivery each', async () => {
    const sent = await post(`/api/admin/bulk/${id}/send`, {});
    expect(sent.statusCode).toBe(200);
    expect(sent.json()).toMatchObject({ status: 'sending', template_version: 1 });
    const jobs = await db.sql`
      select 1 from graphile_worker.jobs where task_identifier = 'notify:campaigns' and key = ${`notify:campaign:${id}`}`;
    expect(jobs).toHaveLength(1);
    // A new version after the send does not change what goes out.
    await insertTemplate('spring', { email: { subject: 'v2 {{ first_name }}', html: '{{ promo }}' } }, 2);

    await runCampaigns(running.platform);
    const deliveries = await deliveriesOf(id);
    expect(deliveries.map((d) => Number(d.user_id))).toEqual(AUDIENCE);
    expect(new Set(deliveries.map((d) => d.recipient_key)).size).toBe(25);
    expect(deliveries.every((d) => d.status === 'pending')).toBe(true);
    const [notification] = await db.sql`
      select n.kind, n.template_version, n.category, n.source_id::int
      from notify_notifications n join notify_campaigns c on c.notification_id = n.id where c.id = ${id}`;
    expect(notification).toEqual({ kind: 'bulk', template_version: 1, category: 'marketing', source_id: id });

    const status = await get(`/api/admin/bulk/${id}`);
    expect(status.json()).toMatchObject({
      status: 'sent',
      fanout: { recipients: 25, done: true },
      progress: { pending: 25 },
    });
    // Running again adds nothing.
    await runCampaigns(running.platform);
    expect(await deliveriesOf(id)).toHaveLength(25);
    const actions =
      await db.sql`select action from audit_log where resource = ${`campaign:${id}`} order by id`;
    expect(actions.map((a) => a.action)).toEqual(['campaign.create', 'campaign.send']);
  });

  it('refuses to cancel or re-send a sent campaign (409)', async () => {
    for (const url of [`/api/admin/bulk/${id}/cancel`, `/api/admin/bulk/${id}/send`]) {
      const response = await post(url, {});
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('NOTIFY_CAMPAIGN_STATE');
    }
    expect((await post('/api/admin/bulk/99999/cancel')).statusCode).toBe(404);
  });

  it('lists campaigns newest first, by status', async () => {
    const list = await get('/api/admin/bulk?status=sent');
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((c: { id: number }) => c.id)).toContain(id);
    expect(list.json().items.every((c: { status: string }) => c.status === 'sent')).toBe(true);
  });
});

describe('cancelling', () => {
  it('mid-fan-out: stops the fan-out and cancels what is pending, keeps what was sent', async () => {
    const id = await createCampaign('To cancel');
    await post(`/api/admin/bulk/${id}/send`, {});
    expect((await fanOutBatch(running.platform, id, 10)).outcome).toBe('progress');
    // Three went out meanwhile (as the workers would mark them).
    await db.sql`
      update notify_deliveries set status = 'sent', sent_at = now()
      where user_id in (101, 102, 103) and notification_id = (select notification_id from notify_campaigns where id = ${id})`;
    const cancel = await post(`/api/admin/bulk/${id}/cancel`);
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toMatchObject({ status: 'cancelled', cancelled_deliveries: 7 });
    await runCampaigns(running.platform);
    expect((await fanOutBatch(running.platform, id, 10)).outcome).toBe('idle');
    const status = (await get(`/api/admin/bulk/${id}`)).json();
    expect(status.progress).toEqual({ sent: 3, cancelled: 7 });
    expect(status.fanout).toEqual({ recipients: 10, done: false });
    const [stats] =
      await db.sql`select sum(count)::int as n from notify_stats_daily where status = 'cancelled'`;
    expect(stats!.n).toBe(7);
    expect((await post(`/api/admin/bulk/${id}/cancel`)).statusCode).toBe(409);
  });

  it('a scheduled campaign: cancelled before its time, it never fans out', async () => {
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const id = await createCampaign('Scheduled', { send_at: sendAt });
    const status = (await get(`/api/admin/bulk/${id}`)).json();
    expect(status).toMatchObject({ status: 'scheduled', send_at: sendAt, template_version: 2 });
    await runCampaigns(running.platform);
    expect(await deliveriesOf(id)).toHaveLength(0);
    expect((await post(`/api/admin/bulk/${id}/cancel`)).json().status).toBe('cancelled');
    await db.sql`update notify_campaigns set send_at = now() - interval '1 minute' where id = ${id}`;
    await runCampaigns(running.platform);
    expect(await deliveriesOf(id)).toHaveLength(0);
  });

  it('a scheduled campaign fans out once its time has come', async () => {
    const id = await createCampaign('Scheduled 2', {
      send_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await db.sql`update notify_campaigns set send_at = now() - interval '1 second' where id = ${id}`;
    await runCampaigns(running.platform);
    expect(await deliveriesOf(id)).toHaveLength(25);
  });
});

describe('resumability', () => {
  it('a fan-out interrupted after a batch resumes with no one skipped or doubled', async () => {
    const id = await createCampaign('Resume');
    // No body: send now.
    expect((await post(`/api/admin/bulk/${id}/send`)).json().status).toBe('sending');
    expect(await fanOutBatch(running.platform, id, 7)).toEqual({ outcome: 'progress', inserted: 7 });
    await runCampaigns(running.platform);
    const deliveries = await deliveriesOf(id);
    expect(deliveries.map((d) => Number(d.user_id))).toEqual(AUDIENCE);
    expect((await get(`/api/admin/bulk/${id}`)).json().fanout).toEqual({ recipients: 25, done: true });
  });

  it('even a cursor that lost its place doubles no one (the deliveries’ unique key)', async () => {
    const id = await createCampaign('Rewind');
    await post(`/api/admin/bulk/${id}/send`, {});
    await fanOutBatch(running.platform, id, 10);
    await db.sql`update notify_campaigns set fanout_cursor = 0 where id = ${id}`;
    await runCampaigns(running.platform);
    expect(await deliveriesOf(id)).toHaveLength(25);
  });

  it('a process killed with SIGKILL inside a batch resumes in another with no one skipped or doubled', async () => {
    const id = await createCampaign('Kill -9');
    await post(`/api/admin/bulk/${id}/send`, {});
    const env = { DATABASE_URL: db.url, CAMPAIGN_ID: String(id), BATCH_SIZE: '4' };

    const killed = spawnNode([], { ...env, KILL_AFTER_BATCHES: '3' }, FIXTURE);
    const first = await killed.exited;
    expect(first.signal, killed.output()).toBe('SIGKILL');
    expect(killed.output()).toContain('batch 3 progress 4');
    expect(killed.output()).toContain('killing inside batch 4');
    // Three batches committed, the fourth rolled back with the connection.
    const [after] = await db.sql`
      select recipients::int, fanout_cursor::int, fanout_done, status from notify_campaigns where id = ${id}`;
    expect(after).toEqual({
      recipients: 12,
      fanout_cursor: AUDIENCE[11],
      fanout_done: false,
      status: 'sending',
    });
    expect(await deliveriesOf(id)).toHaveLength(12);

    const resumed = spawnNode([], env, FIXTURE);
    expect((await resumed.exited).code, resumed.output()).toBe(0);
    const deliveries = await deliveriesOf(id);
    expect(deliveries.map((d) => Number(d.user_id))).toEqual(AUDIENCE);
    expect(new Set(deliveries.map((d) => d.recipient_key)).size).toBe(25);
    const [done] = await db.sql`select recipients::int, status from notify_campaigns where id = ${id}`;
    expect(done).toEqual({ recipients: 25, status: 'sent' });
  }, 30_000);
});
