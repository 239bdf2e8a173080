import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSchedule,
  runDueSchedules,
  type ScheduleInput,
  updateSchedule,
} from '../../src/notify/schedules.ts';
import type { Platform } from '../../src/platform/context.ts';
import type { Running } from '../../src/platform/runtime.ts';
import {
  createAccount,
  createTestDatabase,
  type TestDatabase,
  tokenFor,
} from '../identity/tokens/harness.ts';
import { startNotifyApi } from './harness.ts';

let db: TestDatabase;
let running: Running;
let platform: Platform;
let app: FastifyInstance;
let admin: string;
let readonly: string;

const TEMPLATE = 'weekly-digest';
const at = (text: string) => new Date(text);

beforeAll(async () => {
  db = await createTestDatabase();
  running = await startNotifyApi(db);
  platform = running.platform;
  app = running.app!;
  const bearer = async (role: 'ADMIN' | 'READONLY') =>
    `Bearer ${await tokenFor(app, await createAccount(db, role, { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } }))}`;
  admin = await bearer('ADMIN');
  readonly = await bearer('READONLY');
  await db.sql`insert into notify_templates (id, name, current_version) values (${TEMPLATE}, 'Digest', 1)`;
  await db.sql`
    insert into notify_template_versions (template_id, version, definition)
    values (${TEMPLATE}, 1, ${db.sql.json({ variables: [], channels: { email: { subject: 'Digest', html: '<p>Hi</p>' } } })})`;
  for (const [id, zone] of [
    [101, 'UTC'],
    [102, 'UTC'],
    [103, 'UTC'],
    [201, 'Asia/Tokyo'],
    [202, 'Europe/Moscow'],
  ] as const) {
    await db.sql`insert into users (id, email, password_hash) values (${id}, ${`u${id}@example.test`}, 'x')`;
    await db.sql`insert into notify_contacts (user_id, email, time_zone) values (${id}, ${`u${id}@example.test`}, ${zone})`;
  }
});

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

const base = (overrides: Partial<ScheduleInput> = {}): ScheduleInput => ({
  cron: '0 * * * *',
  time_zone: 'UTC',
  template_id: TEMPLATE,
  channel: 'email',
  user_ids: [101, 102, 103],
  ...overrides,
});

async function schedule(input: ScheduleInput, now: Date): Promise<number> {
  const row = await platform.db.begin((tx) => createSchedule(tx, input, 'test', now));
  return Number(row.id);
}

async function runsOf(id: number) {
  return db.sql<{ run_at: Date; zone: string; recipients: number; notification_id: string }[]>`
    select run_at, zone, recipients, notification_id::text from notify_schedule_runs
    where schedule_id = ${id} order by run_at, zone`;
}

async function sent(id: number): Promise<{ notifications: number; deliveries: number; users: number[] }> {
  const [n] = await db.sql<{ count: number }[]>`
    select count(*)::int as count from notify_notifications where kind = 'scheduled' and source_id = ${id}`;
  const rows = await db.sql<{ user_id: string }[]>`
    select d.user_id::text from notify_deliveries d
    join notify_notifications n on n.id = d.notification_id
    where n.kind = 'scheduled' and n.source_id = ${id} order by d.user_id`;
  return { notifications: n!.count, deliveries: rows.length, users: rows.map((r) => Number(r.user_id)) };
}

const nextRunAt = async (id: number) =>
  (
    await db.sql<{ next_run_at: Date | null }[]>`select next_run_at from notify_schedules where id = ${id}`
  )[0]!.next_run_at;

describe('the runner', () => {
  it('creates one notification with a delivery per user, once per run, however often it is called', async () => {
    const id = await schedule(base(), at('2026-04-01T09:10:00Z'));
    expect(await nextRunAt(id)).toEqual(at('2026-04-01T10:00:00Z'));

    await runDueSchedules(platform, at('2026-04-01T09:59:00Z'));
    expect((await sent(id)).notifications).toBe(0);

    await runDueSchedules(platform, at('2026-04-01T10:00:00Z'));
    await runDueSchedules(platform, at('2026-04-01T10:00:00Z'));
    expect(await sent(id)).toEqual({ notifications: 1, deliveries: 3, users: [101, 102, 103] });
    const [run] = await runsOf(id);
    expect(run).toMatchObject({ run_at: at('2026-04-01T10:00:00Z'), zone: '', recipients: 3 });
    expect(await nextRunAt(id)).toEqual(at('2026-04-01T11:00:00Z'));
    const [n] = await db.sql<{ template_version: number; category: string }[]>`
      select template_version, category from notify_notifications where source_id = ${id} and kind = 'scheduled'`;
    expect(n).toEqual({ template_version: 1, category: 'marketing' });
  });

  it('takes a run once when called concurrently', async () => {
    const id = await schedule(base({ cron: '30 * * * *' }), at('2026-04-02T09:00:00Z'));
    const now = at('2026-04-02T09:30:00Z');
    await Promise.all([
      runDueSchedules(platform, now),
      runDueSchedules(platform, now),
      runDueSchedules(platform, now),
    ]);
    expect(await sent(id)).toMatchObject({ notifications: 1, deliveries: 3 });
    expect(await runsOf(id)).toHaveLength(1);
  });

  it('coalesces runs missed during downtime into one', async () => {
    const id = await schedule(base(), at('2026-04-03T00:30:00Z'));
    // Every process was down from 01:00 to 05:40: five hourly runs missed.
    await runDueSchedules(platform, at('2026-04-03T05:40:00Z'));
    await runDueSchedules(platform, at('2026-04-03T05:41:00Z'));
    expect((await sent(id)).notifications).toBe(1);
    expect(await runsOf(id)).toHaveLength(1);
    expect(await nextRunAt(id)).toEqual(at('2026-04-03T06:00:00Z'));
    await runDueSchedules(platform, at('2026-04-03T06:00:00Z'));
    expect((await sent(id)).notifications).toBe(2);
  });

  it('runs a fixed zone once on a DST spring-forward day', async () => {
    const id = await schedule(
      base({ cron: '0 2 * * *', time_zone: 'America/New_York' }),
      at('2026-03-07T12:00:00Z'),
    );
    expect(await nextRunAt(id)).toEqual(at('2026-03-08T07:00:00Z'));
    for (const minute of ['06:59', '07:00', '07:01', '08:00'])
      await runDueSchedules(platform, at(`2026-03-08T${minute}:00Z`));
    expect((await sent(id)).notifications).toBe(1);
    expect(await nextRunAt(id)).toEqual(at('2026-03-09T06:00:00Z'));
  });

  it('runs a fixed zone once when its time happens twice (DST fall back)', async () => {
    const id = await schedule(
      base({ cron: '30 1 * * *', time_zone: 'America/New_York' }),
      at('2026-10-31T12:00:00Z'),
    );
    // 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) on 2026-11-01.
    for (const time of ['05:30', '06:00', '06:30', '07:00'])
      await runDueSchedules(platform, at(`2026-11-01T${time}:00Z`));
    expect((await sent(id)).notifications).toBe(1);
    expect((await runsOf(id)).map((r) => r.run_at)).toEqual([at('2026-11-01T05:30:00Z')]);
    expect(await nextRunAt(id)).toEqual(at('2026-11-02T06:30:00Z'));
  });

  it('time_zone "recipient": each zone runs at its own 09:00', async () => {
    const id = await schedule(
      base({ cron: '0 9 * * *', time_zone: 'recipient', user_ids: [201, 202] }),
      at('2026-03-01T12:00:00Z'),
    );
    // Tokyo 09:00 = 00:00Z, Moscow 09:00 = 06:00Z.
    expect(await nextRunAt(id)).toEqual(at('2026-03-02T00:00:00Z'));
    await runDueSchedules(platform, at('2026-03-02T00:00:00Z'));
    expect(await sent(id)).toMatchObject({ notifications: 1, users: [201] });
    expect(await nextRunAt(id)).toEqual(at('2026-03-02T06:00:00Z'));
    await runDueSchedules(platform, at('2026-03-02T03:00:00Z'));
    await runDueSchedules(platform, at('2026-03-02T06:00:00Z'));
    await runDueSchedules(platform, at('2026-03-02T06:00:00Z'));
    expect(await sent(id)).toMatchObject({ notifications: 2, users: [201, 202] });
    expect((await runsOf(id)).map((r) => [r.run_at.toISOString(), r.zone, r.recipients])).toEqual([
      ['2026-03-02T00:00:00.000Z', 'Asia/Tokyo', 1],
      ['2026-03-02T06:00:00.000Z', 'Europe/Moscow', 1],
    ]);
    expect(await nextRunAt(id)).toEqual(at('2026-03-03T00:00:00Z'));
  });

  it('sends to a segment', async () => {
    const id = await schedule(
      base({ user_ids: undefined, segment: { time_zone: ['Asia/Tokyo', 'Europe/Moscow'] } }),
      at('2026-04-05T09:10:00Z'),
    );
    await runDueSchedules(platform, at('2026-04-05T10:00:00Z'));
    expect(await sent(id)).toMatchObject({ notifications: 1, users: [201, 202] });
  });

  it('respects ends_at: no run after it, then finished', async () => {
    const id = await schedule(base({ ends_at: '2026-04-06T11:00:00Z' }), at('2026-04-06T09:10:00Z'));
    await runDueSchedules(platform, at('2026-04-06T10:00:00Z'));
    await runDueSchedules(platform, at('2026-04-06T11:00:00Z'));
    expect(await nextRunAt(id)).toBeNull();
    await runDueSchedules(platform, at('2026-04-06T12:00:00Z'));
    expect((await sent(id)).notifications).toBe(2);
  });

  it('skips a run whose template is gone and carries on with the next', async () => {
    await db.sql`insert into notify_templates (id, name, current_version) values ('short-lived', 'Gone soon', 1)`;
    await db.sql`
      insert into notify_template_versions (template_id, version, definition)
      values ('short-lived', 1, ${db.sql.json({ variables: [], channels: { email: { subject: 'S', html: '<p>x</p>' } } })})`;
    const id = await schedule(base({ template_id: 'short-lived' }), at('2026-04-08T09:10:00Z'));
    await db.sql`delete from notify_templates where id = 'short-lived'`;
    await runDueSchedules(platform, at('2026-04-08T10:00:00Z'));
    expect((await sent(id)).notifications).toBe(0);
    expect(await nextRunAt(id)).toEqual(at('2026-04-08T11:00:00Z'));
  });

  it('pause stops the runs; resume continues from now, skipping the runs missed while paused', async () => {
    const id = await schedule(base(), at('2026-04-07T09:10:00Z'));
    await platform.db.begin((tx) => updateSchedule(tx, id, { paused: true }, at('2026-04-07T09:20:00Z')));
    await runDueSchedules(platform, at('2026-04-07T10:00:00Z'));
    await runDueSchedules(platform, at('2026-04-07T12:00:00Z'));
    expect((await sent(id)).notifications).toBe(0);
    await platform.db.begin((tx) => updateSchedule(tx, id, { paused: false }, at('2026-04-07T12:30:00Z')));
    expect(await nextRunAt(id)).toEqual(at('2026-04-07T13:00:00Z'));
    await runDueSchedules(platform, at('2026-04-07T12:59:00Z'));
    expect((await sent(id)).notifications).toBe(0);
    await runDueSchedules(platform, at('2026-04-07T13:00:00Z'));
    expect((await sent(id)).notifications).toBe(1);
  });
});

describe('the API', () => {
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, token = admin) =>
    app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload: payload as object }),
      headers: { authorization: token },
    });
  const body = (overrides: Record<string, unknown> = {}) => ({
    cron: '0 9 * * 1',
    time_zone: 'Europe/Berlin',
    template_id: TEMPLATE,
    channel: 'email',
    user_ids: [101],
    ...overrides,
  });

  it('creates, reads, pauses, resumes, edits and deletes a schedule', async () => {
    const created = await call('POST', '/api/notifications/scheduled', body({ name: 'Monday digest' }));
    expect(created.statusCode).toBe(201);
    const schedule = created.json();
    expect(schedule.next_runs).toHaveLength(5);
    for (const run of schedule.next_runs) expect(new Date(run).getUTCDay()).toBe(1);
    expect(schedule.status).toBe('active');

    const read = await call('GET', `/api/notifications/scheduled/${schedule.id}`, undefined, readonly);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id: schedule.id, name: 'Monday digest', recent_runs: [] });
    const list = await call('GET', '/api/notifications/scheduled', undefined, readonly);
    expect(list.json().items.map((s: { id: number }) => s.id)).toContain(schedule.id);

    const paused = await call('PATCH', `/api/notifications/scheduled/${schedule.id}`, { paused: true });
    expect(paused.json()).toMatchObject({ paused: true, status: 'paused', next_runs: [] });
    const resumed = await call('PATCH', `/api/notifications/scheduled/${schedule.id}`, { paused: false });
    expect(resumed.json()).toMatchObject({ paused: false, status: 'active' });
    const edited = await call('PATCH', `/api/notifications/scheduled/${schedule.id}`, { cron: '0 18 * * *' });
    expect(edited.statusCode).toBe(200);
    expect(edited.json().cron).toBe('0 18 * * *');

    const actions = await db.sql<{ action: string }[]>`
      select action from audit_log where resource = ${`notify_schedule:${schedule.id}`} order by id`;
    expect(actions.map((a) => a.action)).toEqual([
      'schedule.create',
      'schedule.pause',
      'schedule.resume',
      'schedule.update',
    ]);

    expect((await call('DELETE', `/api/notifications/scheduled/${schedule.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/notifications/scheduled/${schedule.id}`)).statusCode).toBe(404);
  });

  it('shows a recipient schedule’s next runs in UTC and per zone of the audience', async () => {
    const response = await call(
      'POST',
      '/api/notifications/scheduled',
      body({ cron: '0 9 * * *', time_zone: 'recipient', user_ids: [201, 202] }),
    );
    expect(response.statusCode).toBe(201);
    const { next_runs, next_runs_by_zone } = response.json();
    for (const run of next_runs) expect(run).toMatch(/T09:00:00\.000Z$/);
    expect(Object.keys(next_runs_by_zone)).toEqual(['Asia/Tokyo', 'Europe/Moscow']);
    for (const run of next_runs_by_zone['Asia/Tokyo']) expect(run).toMatch(/T00:00:00\.000Z$/);
    for (const run of next_runs_by_zone['Europe/Moscow']) expect(run).toMatch(/T06:00:00\.000Z$/);
  });

  it('refuses bad input with a 4xx naming the problem', async () => {
    const cases: [Record<string, unknown>, number, string, RegExp][] = [
      [body({ cron: '61 * * * *' }), 400, 'NOTIFY_SCHEDULE_INVALID', /minute/],
      [body({ cron: '0 0 9 * * *' }), 400, 'NOTIFY_SCHEDULE_INVALID', /seconds/],
      [body({ time_zone: 'Mars/Olympus' }), 400, 'NOTIFY_SCHEDULE_INVALID', /time_zone/],
      [body({ segment: { country: ['DE'] } }), 400, 'NOTIFY_SCHEDULE_INVALID', /exactly one/],
      [body({ user_ids: undefined }), 400, 'NOTIFY_SCHEDULE_INVALID', /exactly one/],
      [body({ user_ids: [] }), 400, 'VALIDATION_FAILED', /user_ids/],
      [body({ user_ids: [0] }), 400, 'VALIDATION_FAILED', /user_ids/],
      [body({ channel: 'fax' }), 400, 'VALIDATION_FAILED', /channel/],
      [body({ template_id: 'nope' }), 404, 'NOTIFY_TEMPLATE_NOT_FOUND', /nope/],
      [body({ channel: 'sms' }), 400, 'NOTIFY_CHANNEL_MISSING', /sms/],
      [
        body({ starts_at: '2030-02-01T00:00:00Z', ends_at: '2030-01-01T00:00:00Z' }),
        400,
        'NOTIFY_SCHEDULE_INVALID',
        /before/,
      ],
      [body({ ends_at: 'tomorrow' }), 400, 'VALIDATION_FAILED', /ends_at/],
      [
        body({ user_ids: undefined, segment: { planet: ['Mars'] } }),
        400,
        'NOTIFY_SEGMENT_INVALID',
        /segment/,
      ],
      [body({ cron: '0 0 30 2 *' }), 400, 'NOTIFY_SCHEDULE_INVALID', /never runs/],
      [body({ extra: 1 }), 400, 'VALIDATION_FAILED', /extra|additional/i],
    ];
    for (const [payload, status, code, message] of cases) {
      const response = await call('POST', '/api/notifications/scheduled', payload);
      expect({ payload, status: response.statusCode, code: response.json().code }).toEqual({
        payload,
        status,
        code,
      });
      expect(response.json().message).toMatch(message);
    }
    expect((await call('PATCH', '/api/notifications/scheduled/999999', { paused: true })).statusCode).toBe(
      404,
    );
    expect((await call('GET', '/api/notifications/scheduled/abc')).statusCode).toBe(400);
  });

  it('lets readers read and only managers write', async () => {
    expect((await call('GET', '/api/notifications/scheduled', undefined, readonly)).statusCode).toBe(200);
    expect((await call('POST', '/api/notifications/scheduled', body(), readonly)).statusCode).toBe(403);
    const response = await app.inject({ method: 'GET', url: '/api/notifications/scheduled' });
    expect(response.statusCode).toBe(401);
  });
});
