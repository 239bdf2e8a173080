import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateSegment, parseSegment, segmentUserIds } from '../../src/notify/segments.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import { startNotifyApi } from './harness.ts';

let db: TestDatabase;
let running: Running;
let app: FastifyInstance;
const auth: Record<string, string> = {};

const P256DH = Buffer.concat([Buffer.from([0x04]), Buffer.alloc(64, 7)]).toString('base64url');
const AUTH = Buffer.alloc(16, 9).toString('base64url');

async function addUser(
  id: number,
  fields: { email?: string; first_name?: string; is_active?: boolean } = {},
) {
  await db.sql`
    insert into users (id, email, password_hash, first_name, is_active)
    values (${id}, ${fields.email ?? `user${id}@example.test`}, 'x', ${fields.first_name ?? `User${id}`},
            ${fields.is_active ?? true})`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  running = await startNotifyApi(db);
  app = running.app!;
  for (const role of ['ADMIN', 'USER', 'READONLY'] as const) {
    const account = await createAccount(db, role, { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } });
    auth[role] = `Bearer ${await tokenFor(app, account)}`;
  }
  await addUser(1, { email: 'Anna@Example.test', first_name: 'Anna' });
  await addUser(2);
});

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

const put = (userId: number, payload: unknown, role = 'USER') =>
  app.inject({
    method: 'PUT',
    url: `/api/notify/contacts/${userId}`,
    headers: { authorization: auth[role]! },
    payload: payload as object,
  });
const get = (userId: number, role = 'READONLY') =>
  app.inject({
    method: 'GET',
    url: `/api/notify/contacts/${userId}`,
    headers: { authorization: auth[role]! },
  });
const subscribe = (userId: number, payload: unknown) =>
  app.inject({
    method: 'POST',
    url: `/api/notify/contacts/${userId}/push-subscriptions`,
    headers: { authorization: auth.USER! },
    payload: payload as object,
  });

describe('contacts', () => {
  it('answers the defaults from the account for a user with no contact, 404 for no user', async () => {
    const response = await get(1);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      user_id: 1,
      stored: false,
      email: 'Anna@Example.test',
      phone: null,
      time_zone: 'UTC',
      locale: 'en',
      country: null,
      preferences: {},
      active: true,
      push_subscriptions: [],
    });
    const missing = await get(999);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOTIFY_CONTACT_NOT_FOUND');
  });

  it('upserts a contact (PUT replaces it) and reads it back', async () => {
    const body = {
      email: 'anna@work.test',
      phone: '+79161234567',
      time_zone: 'Europe/Moscow',
      locale: 'ru-RU',
      country: 'RU',
      preferences: { channels: { sms: false }, categories: { marketing: { email: false } } },
    };
    const first = await put(1, body);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ ...body, stored: true, active: true });
    const second = await put(1, { phone: '+77011234567', country: 'KZ' });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({
      email: 'Anna@Example.test',
      phone: '+77011234567',
      country: 'KZ',
      time_zone: 'UTC',
      preferences: {},
    });
    const rows = await db.sql`select 1 from notify_contacts where user_id = 1`;
    expect(rows).toHaveLength(1);
    expect((await get(1)).json().phone).toBe('+77011234567');
  });

  it('refuses a contact of a user that does not exist', async () => {
    const response = await put(404, { locale: 'ru' });
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('NOTIFY_CONTACT_NOT_FOUND');
  });

  it.each([
    [{ email: 'not-an-email' }, 'email'],
    [{ phone: '89161234567' }, 'phone'],
    [{ phone: '+0123456789' }, 'phone'],
    [{ time_zone: 'Mars/Olympus' }, 'time_zone'],
    [{ locale: 'russian' }, 'locale'],
    [{ country: 'ru' }, 'country'],
    [{ preferences: { channels: { fax: false } } }, 'preferences.channels.fax'],
    [
      { preferences: { categories: { marketing: { email: 'no' } } } },
      'preferences.categories.marketing.email',
    ],
  ])('400 for %j naming %s', async (body, field) => {
    const response = await put(2, body);
    expect(response.statusCode).toBe(400);
    const { code, message } = response.json();
    expect(['NOTIFY_CONTACT_INVALID', 'VALIDATION_FAILED']).toContain(code);
    expect(message).toContain(field.includes('.') ? field.split('.').pop()! : field);
    if (code === 'NOTIFY_CONTACT_INVALID') expect(message).toContain(field);
  });

  it('names the field with NOTIFY_CONTACT_INVALID for a semantic error', async () => {
    const response = await put(2, { time_zone: 'Europe/Atlantis' });
    expect(response.json()).toMatchObject({
      code: 'NOTIFY_CONTACT_INVALID',
      details: { field: 'time_zone' },
    });
  });

  it('refuses unknown fields', async () => {
    const response = await put(2, { nickname: 'x' });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toContain('nickname');
  });

  it('lets an analyst-like reader GET but not PUT (403)', async () => {
    expect((await get(2, 'READONLY')).statusCode).toBe(200);
    expect((await put(2, { locale: 'ru' }, 'READONLY')).statusCode).toBe(403);
    expect((await get(2, 'USER')).statusCode).toBe(200);
  });
});

describe('push subscriptions', () => {
  const endpoint = 'https://push.example.test/send/abc';

  it('adds a subscription (201), making the contact from the account; the same endpoint again is 200', async () => {
    const first = await subscribe(2, {
      endpoint,
      keys: { p256dh: P256DH, auth: AUTH },
      expirationTime: null,
    });
    expect(first.statusCode).toBe(201);
    const { id } = first.json();
    expect(first.json()).toEqual({ id, endpoint });
    const contact = (await get(2)).json();
    expect(contact).toMatchObject({ stored: true, email: 'user2@example.test' });
    expect(contact.push_subscriptions).toEqual([expect.objectContaining({ id, endpoint })]);

    const again = await subscribe(2, { endpoint, keys: { p256dh: P256DH, auth: AUTH } });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(id);

    // The endpoint moves to another user (the browser changed hands): same row, re-pointed.
    const moved = await subscribe(1, { endpoint, keys: { p256dh: P256DH, auth: AUTH } });
    expect(moved.statusCode).toBe(200);
    expect(moved.json().id).toBe(id);
    expect((await get(2)).json().push_subscriptions).toEqual([]);
    expect((await get(1)).json().push_subscriptions).toHaveLength(1);
  });

  it.each([
    [{ endpoint: 'ftp://push.example.test/x', keys: { p256dh: P256DH, auth: AUTH } }, 'endpoint'],
    [{ endpoint: 'not a url', keys: { p256dh: P256DH, auth: AUTH } }, 'endpoint'],
    [
      {
        endpoint,
        keys: {
          p256dh: Buffer.concat([Buffer.from([0x02]), Buffer.alloc(64)]).toString('base64url'),
          auth: AUTH,
        },
      },
      'keys.p256dh',
    ],
    [{ endpoint, keys: { p256dh: Buffer.alloc(33, 4).toString('base64url'), auth: AUTH } }, 'keys.p256dh'],
    [{ endpoint, keys: { p256dh: 'not base64!', auth: AUTH } }, 'keys.p256dh'],
    [{ endpoint, keys: { p256dh: P256DH, auth: Buffer.alloc(8).toString('base64url') } }, 'keys.auth'],
  ])('400 NOTIFY_CONTACT_INVALID for %j', async (body, field) => {
    const response = await subscribe(2, body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'NOTIFY_CONTACT_INVALID', details: { field } });
  });

  it('404 for a user that does not exist', async () => {
    const response = await subscribe(555, {
      endpoint: `${endpoint}/x`,
      keys: { p256dh: P256DH, auth: AUTH },
    });
    expect(response.statusCode).toBe(404);
  });

  it('deletes a subscription (204), then 404', async () => {
    const created = await subscribe(2, { endpoint: `${endpoint}/del`, keys: { p256dh: P256DH, auth: AUTH } });
    const { id } = created.json();
    const remove = () =>
      app.inject({
        method: 'DELETE',
        url: `/api/notify/contacts/2/push-subscriptions/${id}`,
        headers: { authorization: auth.USER! },
      });
    expect((await remove()).statusCode).toBe(204);
    expect((await remove()).statusCode).toBe(404);
  });
});

describe('segments', () => {
  beforeAll(async () => {
    // 10..19: ten users; even ones Russian with a contact, 15 inactive, 11 and 13 in Kazakhstan.
    for (let id = 10; id < 20; id++) await addUser(id, { is_active: id !== 15 });
    for (const id of [10, 12, 14, 16, 18])
      await db.sql`insert into notify_contacts (user_id, country, time_zone, locale, phone)
                   values (${id}, 'RU', 'Europe/Moscow', 'ru-RU', ${id === 10 ? '+79160000010' : null})`;
    for (const id of [11, 13])
      await db.sql`insert into notify_contacts (user_id, country, locale) values (${id}, 'KZ', 'ru')`;
    // Paid bookings of event 7 for 10 and 11, a refunded one for 12.
    for (const [userId, status] of [
      [10, 'paid'],
      [11, 'paid'],
      [12, 'refunded'],
    ] as const)
      await db.sql`insert into bookings (event_id, user_id, status) values (7, ${userId}, ${status})`;
    // A drop purchase for 13 in sale 5.
    const code = '00000000-0000-4000-8000-000000000013';
    await db.sql`insert into drop_reservations (code, sale, item, user_id, reserved_at, expires_at)
                 values (${code}, 5, 1, 13, now(), now() + interval '1 minute')`;
    await db.sql`insert into drop_purchases (sale, item, user_id, code, purchased_at) values (5, 1, 13, ${code}, now())`;
  });

  const inRange = { user_ids: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19] };
  const count = (segment: unknown) => estimateSegment(db.sql, parseSegment({ all: [inRange, segment] }));

  it('counts each condition', async () => {
    expect(await count({ country: ['RU'] })).toBe(5);
    expect(await count({ country: ['RU', 'KZ'] })).toBe(7);
    expect(await count({ time_zone: ['Europe/Moscow'] })).toBe(5);
    expect(await count({ time_zone: ['UTC'] })).toBe(5);
    expect(await count({ locale: ['ru'] })).toBe(7);
    expect(await count({ locale: ['ru-RU'] })).toBe(5);
    expect(await count({ locale: ['en'] })).toBe(3);
    expect(await count({ active: false })).toBe(1);
    expect(await count({ bought_event: 7 })).toBe(2);
    expect(await count({ bought_event: [8] })).toBe(0);
    expect(await count({ bought_in_drop: true })).toBe(1);
    expect(await count({ bought_in_drop: 5 })).toBe(1);
    expect(await count({ bought_in_drop: 6 })).toBe(0);
    expect(await count({ bought_in_drop: false })).toBe(9);
    expect(await count({ has_channel: 'email' })).toBe(10);
    expect(await count({ has_channel: 'sms' })).toBe(1);
    expect(await count({ has_channel: 'push' })).toBe(0);
  });

  it('combines with all, any and not', async () => {
    expect(await count({ any: [{ country: ['KZ'] }, { bought_event: 7 }] })).toBe(3);
    expect(await count({ not: { country: ['RU'] } })).toBe(5);
    expect(await count({ all: [{ country: ['RU'] }, { not: { bought_event: 7 } }, { active: true }] })).toBe(
      4,
    );
  });

  it('pages ascending ids after a cursor', async () => {
    const segment = parseSegment({ all: [inRange, { country: ['RU', 'KZ'] }] });
    expect(await segmentUserIds(db.sql, segment, 0, 3)).toEqual([10, 11, 12]);
    expect(await segmentUserIds(db.sql, segment, 12, 3)).toEqual([13, 14, 16]);
    expect(await segmentUserIds(db.sql, segment, 18, 3)).toEqual([]);
  });

  it.each([
    [{ colour: ['red'] }, 'segment.colour', 'unknown condition'],
    [{ all: [{ country: ['ru'] }] }, 'segment.all[0].country[0]', 'ISO'],
    [{ all: [] }, 'segment.all', 'non-empty'],
    [{ country: ['RU'], locale: ['ru'] }, 'segment', 'exactly one key'],
    [{ time_zone: ['Nowhere/Else'] }, 'segment.time_zone[0]', 'IANA'],
    [{ has_channel: 'fax' }, 'segment.has_channel', 'email, push or sms'],
    [{ not: { not: { not: { not: { not: { not: { active: true } } } } } } }, 'not', 'deeper than 5'],
    [[{ active: true }], 'segment', 'must be an object'],
    [{ any: Array.from({ length: 51 }, () => ({ active: true })) }, 'segment.any[50]', 'more than 50'],
    [{ user_ids: ['1; drop table users'] }, 'segment.user_ids[0]', 'user ids'],
  ])('refuses %j at %s', (segment, path, message) => {
    expect(() => parseSegment(segment)).toThrowError(
      expect.objectContaining({ code: 'NOTIFY_SEGMENT_INVALID' }),
    );
    try {
      parseSegment(segment);
    } catch (error) {
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toContain(message);
    }
  });

  it('estimates over HTTP for notify:manage; 403 for a reader; 400 for a bad segment', async () => {
    const estimate = (segment: unknown, role: string) =>
      app.inject({
        method: 'POST',
        url: '/api/notify/segments/estimate',
        headers: { authorization: auth[role]! },
        payload: { segment },
      });
    const ok = await estimate({ all: [inRange, { country: ['KZ'] }] }, 'ADMIN');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ recipients: 2 });
    expect((await estimate({ country: ['KZ'] }, 'READONLY')).statusCode).toBe(403);
    const bad = await estimate({ country: 'Kazakhstan' }, 'ADMIN');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({
      code: 'NOTIFY_SEGMENT_INVALID',
      details: { path: 'segment.country' },
    });
  });
});
