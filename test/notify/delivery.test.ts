import { createECDH } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notifyKeys } from '../../src/notify/secrets.ts';
import {
  bearer,
  createTestDatabase,
  eventually,
  makeTemplate,
  makeUser,
  type NotifyPeers,
  type NotifyServer,
  startNotifyPeers,
  startNotifyServer,
  type TestDatabase,
} from './harness.ts';

/**
 * The delivery engine end to end: instant notifications through the API, sent by the workers of a `start`
 * process into the real development peers (an SMTP server, an SMS API, a Web Push service), with each
 * failure mode of a provider and what it must lead to.
 */
let db: TestDatabase;
let peers: NotifyPeers;
let server: NotifyServer;
let token: string;

const greeting = {
  variables: [
    { name: 'name', required: true, sample: 'Anna' },
    { name: 'code', sample: 'X1' },
  ],
  channels: {
    email: {
      subject: 'Hello {{ name }}',
      html: '<p>Hi {{ name }}! {% if code %}Code {{ code }}.{% endif %} <a href="https://example.test/e">event</a></p>',
    },
    push: { title: 'Hi {{ name }}', body: 'Your code {{ code }}', url: 'https://example.test/p' },
    sms: { text: 'Hi {{ name }}, code {{ code }}' },
  },
};

beforeAll(async () => {
  db = await createTestDatabase();
  peers = await startNotifyPeers();
  server = await startNotifyServer(db, peers);
  token = await bearer(db, server.app, 'USER');
  await makeTemplate(db.sql, 'greeting', greeting);
});

afterAll(async () => {
  await server?.stop();
  await peers?.stop();
  await db?.drop();
});

beforeEach(() => {
  peers.smtp.clear();
  peers.smtp.configure(null);
  peers.sms.clear();
  peers.sms.configure(null);
  peers.push.clear();
  peers.push.configure(null);
});

async function send(body: unknown, headers: Record<string, string> = {}) {
  return server.app.inject({
    method: 'POST',
    url: '/api/notifications',
    headers: { authorization: token, ...headers },
    payload: body as object,
  });
}

async function statusOf(id: number) {
  const response = await server.app.inject({
    method: 'GET',
    url: `/api/notifications/${id}`,
    headers: { authorization: token },
  });
  expect(response.statusCode).toBe(200);
  return response.json() as {
    status: string;
    attempts: number;
    recipient: string;
    history: { status: string }[];
    last_error: string | null;
    deliveries: { provider: string | null; status: string }[];
  };
}

const settled = (id: number, status: string) =>
  eventually(async () => {
    const s = await statusOf(id);
    return s.status === status ? s : undefined;
  }, `notification ${id} to be ${status}`);

describe('each channel into its peer', () => {
  it('email: the SMTP server receives the rendered message, with a plain-text part and a stable Message-ID', async () => {
    const user = await makeUser(db.sql, { email: 'anna@example.test' });
    const response = await send({
      user_id: user,
      channel: 'email',
      template_id: 'greeting',
      variables: { name: 'Anna', code: 'Z9' },
    });
    expect(response.statusCode).toBe(202);
    const { id, status } = response.json();
    expect(status).toBe('pending');
    const done = await settled(id, 'sent');
    expect(done.recipient).toBe('anna@example.test');
    expect(done.history.map((h) => h.status)).toEqual(['pending', 'sent']);
    const [mail] = peers.smtp.messages({ to: 'anna@example.test' });
    expect(mail?.subject).toBe('Hello Anna');
    expect(mail?.html).toContain('Code Z9.');
    expect(mail?.text).toContain('Hi Anna!');
    expect(mail?.headers['message-id']).toMatch(/^<d\d+-\d{8}@boxoffice>$/);
    // Transactional mail carries no unsubscribe headers.
    expect(mail?.headers['list-unsubscribe']).toBeUndefined();
  });

  it('sms: the provider gets the phone number and text; ad-hoc content needs no template', async () => {
    const response = await send({
      to: { phone: '+79990001122' },
      channel: 'sms',
      body: 'Gates open at 18:00',
    });
    expect(response.statusCode).toBe(202);
    await settled(response.json().id, 'sent');
    const [sms] = peers.sms.messages({ to: '+79990001122' });
    expect(sms?.text).toBe('Gates open at 18:00');
    expect(sms?.extra.reference).toMatch(/^d\d+-\d{8}$/);
  });

  it('push: the payload the push service decrypts with the subscription’s keys is the rendered message, signed by our VAPID key', async () => {
    const user = await makeUser(db.sql, { email: 'push@example.test' });
    const subscription = peers.push.createSubscription();
    await db.sql`insert into notify_push_subscriptions (user_id, endpoint, p256dh, auth)
                 values (${user}, ${subscription.endpoint}, ${subscription.keys.p256dh}, ${subscription.keys.auth})`;
    const response = await send({
      user_id: user,
      channel: 'push',
      template_id: 'greeting',
      variables: { name: 'Bo', code: '7' },
    });
    expect(response.statusCode).toBe(202);
    await settled(response.json().id, 'sent');
    const [push] = peers.push.received();
    const payload = JSON.parse(push!.plaintext.toString('utf8'));
    expect(payload).toMatchObject({ title: 'Hi Bo', body: 'Your code 7', url: 'https://example.test/p' });
    expect(push!.vapidKey).toBe((await notifyKeys(server.platform.config)).vapid.publicKey);
    // The derived VAPID key is a real P-256 public key.
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    expect(() => peer.computeSecret(Buffer.from(push!.vapidKey, 'base64url'))).not.toThrow();
  });
});

describe('failures', () => {
  it('a transient 503 is retried and then sent; the attempts say so', async () => {
    peers.sms.inject({ mode: '5xx', status: 503, to: '+79990002233' });
    const response = await send({ to: { phone: '+79990002233' }, channel: 'sms', body: 'retry me' });
    const done = await settled(response.json().id, 'sent');
    expect(done.attempts).toBe(2);
    expect(peers.sms.messages({ to: '+79990002233' })).toHaveLength(1);
  });

  it('every attempt failing makes a dead letter, listed and retried by hand', async () => {
    peers.sms.configure({ mode: '5xx', status: 502, to: '+79990003344' });
    const response = await send({ to: { phone: '+79990003344' }, channel: 'sms', body: 'doomed' });
    const { id } = response.json();
    const failed = await settled(id, 'failed');
    expect(failed.attempts).toBe(3);
    expect(failed.last_error).toMatch(/gave up after 3 attempts/);
    const manager = await bearer(db, server.app, 'ADMIN');
    const list = await server.app.inject({
      method: 'GET',
      url: '/api/notify/dead-letters?channel=sms',
      headers: { authorization: manager },
    });
    const letter = list
      .json()
      .dead_letters.find((d: { recipient: string }) => d.recipient === '+79990003344');
    expect(letter).toBeDefined();
    peers.sms.configure(null);
    const retry = await server.app.inject({
      method: 'POST',
      url: `/api/notify/dead-letters/${letter.id}/retry`,
      headers: { authorization: manager },
    });
    expect(retry.json()).toEqual({ retried: 1 });
    await settled(id, 'sent');
    expect(peers.sms.messages({ to: '+79990003344' })).toHaveLength(1);
    const again = await server.app.inject({
      method: 'POST',
      url: `/api/notify/dead-letters/${letter.id}/retry`,
      headers: { authorization: manager },
    });
    expect(again.statusCode).toBe(404);
  });

  it('a 429 with Retry-After and a connection cut mid-message are transient: retried, then sent once', async () => {
    peers.sms.inject({ mode: '429', retryAfterSeconds: 1, to: '+79990007788' });
    peers.smtp.inject({ mode: 'cut', to: 'cut@example.test' });
    const sms = await send({ to: { phone: '+79990007788' }, channel: 'sms', body: 'slow down' });
    const email = await send({
      to: { email: 'cut@example.test' },
      channel: 'email',
      subject: 'Hi',
      body: 'again',
    });
    const [smsDone, emailDone] = await Promise.all([
      settled(sms.json().id, 'sent'),
      settled(email.json().id, 'sent'),
    ]);
    expect(smsDone.attempts).toBe(2);
    expect(emailDone.attempts).toBe(2);
    expect(peers.sms.messages({ to: '+79990007788' })).toHaveLength(1);
    expect(peers.smtp.messages({ to: 'cut@example.test' })).toHaveLength(1);
  });

  it('a permanent 4xx is not retried: a dead letter after one attempt', async () => {
    peers.sms.configure({ mode: '4xx', status: 422, to: '+79990004455' });
    const response = await send({ to: { phone: '+79990004455' }, channel: 'sms', body: 'bad number' });
    const failed = await settled(response.json().id, 'failed');
    expect(failed.attempts).toBe(1);
    const [row] =
      await db.sql`select dead from notify_deliveries where notification_id = ${response.json().id}`;
    expect(row?.dead).toBe(true);
  });

  it('a hard bounce at RCPT suppresses the address: the next email to it is not sent', async () => {
    peers.smtp.configure({ mode: '5xx', stage: 'rcpt', code: 550, to: 'nobody@example.test' });
    const first = await send({
      to: { email: 'nobody@example.test' },
      channel: 'email',
      subject: 'Hi',
      body: 'x',
    });
    await settled(first.json().id, 'bounced');
    const [suppressed] =
      await db.sql`select reason from notify_suppressions where channel = 'email' and address = 'nobody@example.test'`;
    expect(suppressed?.reason).toBe('bounce');
    const second = await send({
      to: { email: 'Nobody@Example.test' },
      channel: 'email',
      subject: 'Hi',
      body: 'y',
    });
    expect(second.json().status).toBe('suppressed');
    expect((await statusOf(second.json().id)).status).toBe('suppressed');
  });

  it('a push subscription the push service calls gone (410) is removed', async () => {
    const user = await makeUser(db.sql, { email: 'gone@example.test' });
    const subscription = peers.push.createSubscription();
    await db.sql`insert into notify_push_subscriptions (user_id, endpoint, p256dh, auth)
                 values (${user}, ${subscription.endpoint}, ${subscription.keys.p256dh}, ${subscription.keys.auth})`;
    peers.push.removeSubscription(subscription.endpoint);
    const response = await send({ user_id: user, channel: 'push', body: 'hello', subject: 'x' });
    await settled(response.json().id, 'failed');
    await eventually(async () => {
      const rows =
        await db.sql`select 1 from notify_push_subscriptions where endpoint = ${subscription.endpoint}`;
      return rows.length === 0 ? true : undefined;
    }, 'the subscription to be removed');
  });
});

describe('failover', () => {
  it('a provider that refuses connections is skipped for the next one in SMTP_URL', async () => {
    // A database of its own: no other worker may take this delivery.
    const own = await createTestDatabase();
    const first = await startNotifyPeers();
    const second = await startNotifyPeers();
    // The first provider refuses every connection; the second takes the message.
    first.smtp.configure({ mode: 'refuse' });
    const other = await startNotifyServer(own, first, { SMTP_URL: `${first.smtpUrl},${second.smtpUrl}` });
    try {
      const otherToken = await bearer(own, other.app, 'USER');
      const response = await other.app.inject({
        method: 'POST',
        url: '/api/notifications',
        headers: { authorization: otherToken },
        payload: {
          to: { email: 'failover@example.test' },
          channel: 'email',
          subject: 'Hi',
          body: 'via the second',
        },
      });
      const id = response.json().id;
      const done = await eventually(async () => {
        const [row] =
          await own.sql`select status, provider, attempts from notify_deliveries where notification_id = ${id}`;
        return row?.status === 'sent' ? row : undefined;
      }, 'the failover delivery');
      expect(done.provider).toBe(second.smtpUrl);
      expect(done.attempts).toBe(1);
      expect(second.smtp.messages({ to: 'failover@example.test' })).toHaveLength(1);
      expect(first.smtp.messages({ to: 'failover@example.test' })).toHaveLength(0);
    } finally {
      await other.stop();
      await Promise.all([first.stop(), second.stop()]);
      await own.drop();
    }
  });
});

describe('the instant API', () => {
  it('parallel repeats with one Idempotency-Key make one notification and one message', async () => {
    const body = { to: { phone: '+79990005566' }, channel: 'sms', body: 'once' };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => send(body, { 'idempotency-key': 'k-parallel-1' })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(202));
    const ids = new Set(responses.map((r) => r.json().id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    await settled(id as number, 'sent');
    const rows = await db.sql`select count(*)::int as n from notify_notifications where id = ${id as number}`;
    expect(rows[0]?.n).toBe(1);
    expect(peers.sms.messages({ to: '+79990005566' })).toHaveLength(1);
    const other = await send({ ...body, body: 'twice' }, { 'idempotency-key': 'k-parallel-1' });
    expect(other.statusCode).toBe(422);
    expect(other.json().code).toBe('NOTIFY_IDEMPOTENCY_MISMATCH');
  });

  it('refuses what it cannot send with a 4xx that says why', async () => {
    const noPhone = await makeUser(db.sql, { email: 'nophone@example.test' });
    const cases: [unknown, number, RegExp][] = [
      [{ channel: 'email', subject: 'x', body: 'y' }, 400, /exactly one of user_id and to/],
      [{ to: { email: 'a@example.test' }, channel: 'sms', body: 'y' }, 400, /sms needs to.phone/],
      [{ to: { email: 'a@example.test' }, channel: 'email', body: 'y' }, 400, /needs a subject/],
      [
        { to: { email: 'a@example.test' }, channel: 'email', template_id: 'greeting' },
        400,
        /missing required variable: name/,
      ],
      [
        {
          to: { email: 'a@example.test' },
          channel: 'email',
          template_id: 'greeting',
          variables: { name: 'a', nme: 1 },
        },
        400,
        /does not declare nme/,
      ],
      [
        { to: { email: 'a@example.test' }, channel: 'email', template_id: 'nope', variables: {} },
        404,
        /no template nope/,
      ],
      [{ user_id: noPhone, channel: 'sms', body: 'y' }, 422, /has no phone number/],
      [{ user_id: 987654, channel: 'sms', body: 'y' }, 404, /no user 987654/],
      [{ to: { phone: '12345' }, channel: 'sms', body: 'y' }, 400, /phone/],
      [{ to: { phone: '+79990001122' }, channel: 'fax', body: 'y' }, 400, /channel/],
      [{ to: { phone: '+79990001122' }, channel: 'sms', body: 'y', extra: 1 }, 400, /extra/],
    ];
    for (const [body, status, message] of cases) {
      const response = await send(body);
      expect({ body, status: response.statusCode }).toEqual({ body, status });
      expect(response.json().message).toMatch(message);
    }
    const badKey = await send(
      { to: { phone: '+79990001122' }, channel: 'sms', body: 'y' },
      { 'idempotency-key': 'ключ' },
    );
    expect(badKey.statusCode).toBe(400);
    expect(
      (
        await server.app.inject({
          method: 'GET',
          url: '/api/notifications/0',
          headers: { authorization: token },
        })
      ).statusCode,
    ).toBe(400);
    expect(
      (
        await server.app.inject({
          method: 'GET',
          url: '/api/notifications/99999999',
          headers: { authorization: token },
        })
      ).statusCode,
    ).toBe(404);
  });

  it('marketing in the recipient’s quiet hours waits for the morning; transactional does not', async () => {
    // A zone where it is night now: the quiet window of `marketing` (22:00–08:00) holds the delivery.
    const hour = new Date().getUTCHours();
    const offset = ((2 - hour + 24) % 24) - ((2 - hour + 24) % 24 > 12 ? 24 : 0); // local 02:xx
    const zone = offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
    const user = await makeUser(db.sql, {
      email: 'night@example.test',
      phone: '+79990006677',
      time_zone: zone,
    });
    const marketing = await send({ user_id: user, channel: 'sms', body: 'sale!', category: 'marketing' });
    const transactional = await send({ user_id: user, channel: 'sms', body: 'your booking' });
    await settled(transactional.json().id, 'sent');
    const [held] =
      await db.sql`select status, next_attempt_at from notify_deliveries where notification_id = ${marketing.json().id}`;
    expect(held?.status).toBe('pending');
    expect((held!.next_attempt_at as Date).getTime()).toBeGreaterThan(Date.now() + 3 * 3600_000);
  });
});

describe('metrics and analytics counters', () => {
  it('counts deliveries by channel, provider and status, and keeps the daily counters', async () => {
    const metrics = await server.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(
      /notify_deliveries_total\{channel="sms",provider="[^"]+",status="sent"\} \d+/,
    );
    expect(metrics.body).toMatch(/notify_queue_depth/);
    expect(metrics.body).toMatch(/notify_oldest_due_seconds \d/);
    const [sent] =
      await db.sql`select sum(count)::int as n from notify_stats_daily where channel = 'sms' and status = 'sent'`;
    const [rows] =
      await db.sql`select count(*)::int as n from notify_deliveries where channel = 'sms' and sent_at is not null`;
    expect(sent?.n).toBe(rows?.n);
  });
});
