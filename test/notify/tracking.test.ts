import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientsForUsers } from '../../src/notify/queue.ts';
import { notifyKeys } from '../../src/notify/secrets.ts';
import { signToken, trackEmail, verifyToken } from '../../src/notify/tracking.ts';
import { signCallback } from '../../src/notify/tracking-events.ts';
import type { Platform } from '../../src/platform/context.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startNotifyApi } from './harness.ts';

const KEY = Buffer.alloc(32, 7);
const BASE = 'https://mail.example';

describe('tracking tokens', () => {
  it('round-trip every kind, and a click carries its URL', () => {
    for (const kind of ['open', 'unsubscribe'] as const) {
      const token = signToken(KEY, { kind, deliveryId: 123_456_789_012, createdOn: '2026-12-02' });
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(verifyToken(KEY, token, kind)).toEqual({
        kind,
        deliveryId: 123_456_789_012,
        createdOn: '2026-12-02',
      });
    }
    const url = 'https://shop.example/a?b=1&c=ü#x';
    const click = signToken(KEY, { kind: 'click', deliveryId: 5, createdOn: '2026-01-31', url });
    expect(verifyToken(KEY, click, 'click')).toEqual({
      kind: 'click',
      deliveryId: 5,
      createdOn: '2026-01-31',
      url,
    });
    // Compact: version, kind, id, day and a 16-byte MAC.
    expect(
      signToken(KEY, { kind: 'open', deliveryId: 5, createdOn: '2026-01-31' }).length,
    ).toBeLessThanOrEqual(30);
  });

  it('reject tampering, another key, another kind and garbage', () => {
    const token = signToken(KEY, {
      kind: 'click',
      deliveryId: 5,
      createdOn: '2026-01-31',
      url: 'https://a.example/',
    });
    const bytes = Buffer.from(token, 'base64url');
    for (const i of [0, 1, 2, 5, bytes.length - 1]) {
      const altered = Buffer.from(bytes);
      altered[i] = altered[i]! ^ 1;
      expect(verifyToken(KEY, altered.toString('base64url'))).toBeNull();
    }
    expect(verifyToken(Buffer.alloc(32, 8), token)).toBeNull();
    expect(verifyToken(KEY, token, 'open')).toBeNull();
    expect(verifyToken(KEY, token.slice(0, -2))).toBeNull();
    for (const junk of ['', 'x', '!!!', 'a'.repeat(9000)]) expect(verifyToken(KEY, junk)).toBeNull();
  });
});

describe('trackEmail', () => {
  const delivery = {
    id: 42,
    createdOn: '2026-12-02',
    channel: 'email' as const,
    category: 'marketing',
    recipient: 'A@x.example',
  };

  it('rewrites http(s) links, leaves the others, adds the pixel and the RFC 8058 headers', () => {
    const html = `<html><body><p>Hi</p>
<a href="https://shop.example/?a=1&amp;b=2" class="x">Shop</a>
<A HREF='http://other.example/p'>Other</A>
<a title="a > b" href=https://bare.example/x>Bare</a>
<a href="mailto:help@x.example">Mail</a> <a href="#top">Top</a> <a name="n">anchor</a>
<a href="${BASE}/api/notify/unsubscribe/abc">Unsubscribe</a>
</body></html>`;
    const tracked = trackEmail(KEY, `${BASE}/`, delivery, html);
    const hrefs = [...tracked.html.matchAll(/href\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map(
      (m) => m[2] ?? m[3] ?? m[4],
    );
    const clicks = hrefs.filter((h) => h!.startsWith(`${BASE}/api/notify/t/c/`));
    expect(clicks).toHaveLength(3);
    const targets = clicks.map((h) => verifyToken(KEY, h!.split('/').at(-1)!, 'click')?.url);
    // Entities are decoded: the redirect goes where the browser would have gone.
    expect(targets).toEqual([
      'https://shop.example/?a=1&b=2',
      'http://other.example/p',
      'https://bare.example/x',
    ]);
    expect(hrefs).toContain('mailto:help@x.example');
    expect(hrefs).toContain('#top');
    expect(hrefs).toContain(`${BASE}/api/notify/unsubscribe/abc`);
    expect(tracked.html).toContain('class="x"');
    expect(tracked.html).toContain('title="a > b"');
    const pixel = /<img src="([^"]+)" width="1" height="1" alt="">(?=<\/body>)/.exec(tracked.html);
    expect(pixel).not.toBeNull();
    expect(verifyToken(KEY, pixel![1]!.split('/').at(-1)!, 'open')).toEqual({
      kind: 'open',
      deliveryId: 42,
      createdOn: '2026-12-02',
    });
    const unsubscribe = /^<(https:\/\/mail\.example\/api\/notify\/unsubscribe\/([A-Za-z0-9_-]+))>$/.exec(
      tracked.listUnsubscribe,
    );
    expect(verifyToken(KEY, unsubscribe![2]!, 'unsubscribe')?.deliveryId).toBe(42);
    expect(tracked.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
  });

  it('appends the pixel when there is no </body>', () => {
    const tracked = trackEmail(KEY, BASE, delivery, '<p>plain</p>');
    expect(tracked.html).toMatch(
      /^<p>plain<\/p><img src="https:\/\/mail\.example\/api\/notify\/t\/o\/[A-Za-z0-9_-]+"/,
    );
  });
});

describe('tracking routes', () => {
  let db: TestDatabase;
  let running: Running;
  let app: FastifyInstance;
  let platform: Platform;
  let key: Buffer;
  let userId = 1000;

  beforeAll(async () => {
    db = await createTestDatabase();
    running = await startNotifyApi(db);
    app = running.app!;
    platform = running.platform;
    key = (await notifyKeys(platform.config)).tracking;
    await db.sql`select notify_ensure_partition((now() at time zone 'UTC')::date)`;
  }, 60_000);

  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  /** A user, a notification and its delivery, sent `sentSecondsAgo` ago. */
  async function sentDelivery(
    options: { category?: string; locale?: string; sentSecondsAgo?: number; messageId?: string } = {},
  ) {
    const user = ++userId;
    const email = `User${user}@Example.test`;
    await db.sql`insert into users (id, email, password_hash) values (${user}, ${email}, 'x')`;
    if (options.locale)
      await db.sql`insert into notify_contacts (user_id, email, locale, country, time_zone)
                   values (${user}, ${email}, ${options.locale}, 'RU', 'Europe/Moscow')`;
    const [n] = await db.sql<{ id: string; created_on: string }[]>`
      insert into notify_notifications (kind, channel, category, content, created_on)
      values ('instant', 'email', ${options.category ?? 'marketing'}, ${db.sql.json({ body: 'hi' })},
              (now() at time zone 'UTC')::date)
      returning id::text, created_on::text`;
    const [d] = await db.sql<{ id: string }[]>`
      insert into notify_deliveries (created_on, notification_id, user_id, channel, recipient, recipient_key,
                                     priority, status, sent_at, provider_message_id, country, time_zone)
      values (${n!.created_on}::date, ${n!.id}, ${user}, 'email', ${email}, ${`user:${user}`}, 0, 'sent',
              now() - make_interval(secs => ${options.sentSecondsAgo ?? 90}), ${options.messageId ?? null},
              'RU', 'Europe/Moscow')
      returning id::text`;
    return { user, email, deliveryId: Number(d!.id), createdOn: n!.created_on };
  }

  const delivery = async (id: number) =>
    (
      await db.sql<
        {
          status: string;
          opened_at: Date | null;
          clicked_at: Date | null;
          delivered_at: Date | null;
          last_error: string | null;
        }[]
      >`select status, opened_at, clicked_at, delivered_at, last_error from notify_deliveries where id = ${id}`
    )[0]!;

  const counter = async (status: string) =>
    Number(
      (
        await db.sql<{ n: string }[]>`
          select coalesce(sum(count), 0)::text as n from notify_stats_daily where status = ${status}`
      )[0]!.n,
    );

  const tokenOf = (
    kind: 'open' | 'click' | 'unsubscribe',
    d: { deliveryId: number; createdOn: string },
    url?: string,
  ) => signToken(key, { kind, deliveryId: d.deliveryId, createdOn: d.createdOn, ...(url ? { url } : {}) });

  it('the pixel records the first open once, with its time to open', async () => {
    const d = await sentDelivery({ sentSecondsAgo: 100 });
    const opensBefore = await counter('opened');
    for (let i = 0; i < 2; i++) {
      const response = await app.inject({ method: 'GET', url: `/api/notify/t/o/${tokenOf('open', d)}` });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('image/gif');
      expect(response.headers['cache-control']).toContain('no-store');
      expect(response.rawPayload.subarray(0, 6).toString()).toBe('GIF89a');
    }
    const row = await delivery(d.deliveryId);
    expect(row.status).toBe('opened');
    expect(row.opened_at).not.toBeNull();
    expect(await counter('opened')).toBe(opensBefore + 1);
    const latency = await db.sql<{ bucket: number; count: string }[]>`
      select bucket, count::text from notify_open_latency`;
    // 100 s lands in bucket floor(log2(100) * 4) = 26.
    expect(latency.some((l) => l.bucket === 26)).toBe(true);
  });

  it('a forged pixel still gets the GIF, and nothing is recorded', async () => {
    const d = await sentDelivery();
    const forged = signToken(Buffer.alloc(32, 1), {
      kind: 'open',
      deliveryId: d.deliveryId,
      createdOn: d.createdOn,
    });
    for (const token of [forged, 'garbage']) {
      const response = await app.inject({ method: 'GET', url: `/api/notify/t/o/${token}` });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('image/gif');
    }
    expect((await delivery(d.deliveryId)).status).toBe('sent');
  });

  it('a click redirects to the signed URL, records the click and the open once', async () => {
    const d = await sentDelivery();
    const [clicksBefore, opensBefore] = [await counter('clicked'), await counter('opened')];
    const url = 'https://shop.example/sale?x=1';
    for (let i = 0; i < 2; i++) {
      const response = await app.inject({
        method: 'GET',
        url: `/api/notify/t/c/${tokenOf('click', d, url)}`,
      });
      expect(response.statusCode).toBe(302);
      expect(response.headers.location).toBe(url);
    }
    const row = await delivery(d.deliveryId);
    expect(row.status).toBe('opened');
    expect(row.clicked_at).not.toBeNull();
    expect(await counter('clicked')).toBe(clicksBefore + 1);
    expect(await counter('opened')).toBe(opensBefore + 1);
  });

  it('a forged or altered click token is 400 NOTIFY_TOKEN_INVALID (no open redirect)', async () => {
    const d = await sentDelivery();
    const good = tokenOf('click', d, 'https://shop.example/');
    const evil = signToken(Buffer.alloc(32, 1), { kind: 'click', ...d, url: 'https://evil.example/' });
    const openToken = tokenOf('open', d);
    for (const token of [evil, `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`, openToken]) {
      const response = await app.inject({ method: 'GET', url: `/api/notify/t/c/${token}` });
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('NOTIFY_TOKEN_INVALID');
    }
    expect((await delivery(d.deliveryId)).clicked_at).toBeNull();
  });

  it('the unsubscribe page asks in the contact’s language and changes nothing', async () => {
    const d = await sentDelivery({ locale: 'ru' });
    const response = await app.inject({
      method: 'GET',
      url: `/api/notify/unsubscribe/${tokenOf('unsubscribe', d)}`,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toContain('lang="ru"');
    expect(response.body).toContain('<form method="post"');
    expect(response.body).toContain(d.email.toLowerCase());
    const rows = await db.sql`select * from notify_suppressions where address = ${d.email.toLowerCase()}`;
    expect(rows).toHaveLength(0);
    const en = await sentDelivery();
    const page = await app.inject({
      method: 'GET',
      url: `/api/notify/unsubscribe/${tokenOf('unsubscribe', en)}`,
    });
    expect(page.body).toContain('lang="en"');
    const bad = await app.inject({ method: 'GET', url: `/api/notify/unsubscribe/${tokenOf('open', en)}` });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('NOTIFY_TOKEN_INVALID');
  });

  it('RFC 8058 one-click POST suppresses the address for the category, idempotently', async () => {
    const d = await sentDelivery({ category: 'marketing' });
    for (let i = 0; i < 2; i++) {
      const response = await app.inject({
        method: 'POST',
        url: `/api/notify/unsubscribe/${tokenOf('unsubscribe', d)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'List-Unsubscribe=One-Click',
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/html');
    }
    const rows = await db.sql<{ channel: string; category: string; reason: string }[]>`
      select channel, category, reason from notify_suppressions where address = ${d.email.toLowerCase()}`;
    expect(rows).toEqual([{ channel: 'email', category: 'marketing', reason: 'unsubscribe' }]);
    const marketing = await recipientsForUsers(db.sql, 'email', 'marketing', [d.user]);
    expect(marketing.recipients[0]!.suppressed).toMatch(/suppressed/);
    const transactional = await recipientsForUsers(db.sql, 'email', 'transactional', [d.user]);
    expect(transactional.recipients[0]!.suppressed).toBeNull();
  });

  it('the form can unsubscribe from everything; an empty body works too', async () => {
    const d = await sentDelivery();
    const all = await app.inject({
      method: 'POST',
      url: `/api/notify/unsubscribe/${tokenOf('unsubscribe', d)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'scope=all',
    });
    expect(all.statusCode).toBe(200);
    const e = await sentDelivery({ category: 'news' });
    const empty = await app.inject({
      method: 'POST',
      url: `/api/notify/unsubscribe/${tokenOf('unsubscribe', e)}`,
    });
    expect(empty.statusCode).toBe(200);
    const rows = await db.sql<{ address: string; category: string }[]>`
      select address, category from notify_suppressions where address in (${d.email.toLowerCase()}, ${e.email.toLowerCase()})
      order by address`;
    expect(rows).toEqual([
      { address: d.email.toLowerCase(), category: '*' },
      { address: e.email.toLowerCase(), category: 'news' },
    ]);
  });

  describe('provider callbacks', () => {
    let callbackKey: Buffer;
    beforeAll(async () => {
      callbackKey = (await notifyKeys(platform.config)).callbacks;
    });

    const post = (channel: string, body: unknown, signature?: string) => {
      const raw = JSON.stringify(body);
      return app.inject({
        method: 'POST',
        url: `/api/notify/callbacks/${channel}`,
        headers: {
          'content-type': 'application/json',
          'x-notify-signature': signature ?? signCallback(callbackKey, raw),
        },
        payload: raw,
      });
    };

    it('a bad or missing signature is 401 and changes nothing', async () => {
      const d = await sentDelivery({ messageId: 'msg-unsigned' });
      const body = { events: [{ message_id: 'msg-unsigned', type: 'delivered' }] };
      const wrong = await post('email', body, signCallback(Buffer.alloc(32, 3), JSON.stringify(body)));
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().code).toBe('NOTIFY_CALLBACK_UNAUTHORIZED');
      const missing = await app.inject({
        method: 'POST',
        url: '/api/notify/callbacks/email',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      expect(missing.statusCode).toBe(401);
      expect((await delivery(d.deliveryId)).status).toBe('sent');
    });

    it('delivered moves sent → delivered once; an opened one keeps its status', async () => {
      const a = await sentDelivery({ messageId: 'msg-a' });
      const b = await sentDelivery();
      await app.inject({ method: 'GET', url: `/api/notify/t/o/${tokenOf('open', b)}` });
      const before = await counter('delivered');
      const body = {
        events: [
          { message_id: 'msg-a', type: 'delivered', at: '2026-12-02T10:00:00Z' },
          { delivery_id: b.deliveryId, type: 'delivered' },
          { message_id: 'nobody', type: 'delivered' },
        ],
      };
      const first = await post('email', body);
      expect(first.statusCode).toBe(200);
      expect(first.json()).toEqual({ applied: 2, unchanged: 0, unknown: 1 });
      const again = await post('email', body);
      expect(again.json()).toEqual({ applied: 0, unchanged: 2, unknown: 1 });
      expect((await delivery(a.deliveryId)).status).toBe('delivered');
      const rowB = await delivery(b.deliveryId);
      expect(rowB.status).toBe('opened');
      expect(rowB.delivered_at).not.toBeNull();
      expect(await counter('delivered')).toBe(before + 2);
      // Another channel's callback does not find an email delivery.
      expect(
        (await post('sms', { events: [{ delivery_id: a.deliveryId, type: 'failed' }] })).json().unknown,
      ).toBe(1);
    });

    it('a hard bounce marks it bounced and suppresses the address; recipientsForUsers sees it', async () => {
      const d = await sentDelivery({ messageId: 'msg-bounce' });
      const before = await counter('bounced');
      const response = await post('email', {
        events: [
          { message_id: 'msg-bounce', type: 'bounce', bounce_type: 'hard', reason: '550 no such user' },
        ],
      });
      expect(response.json()).toEqual({ applied: 1, unchanged: 0, unknown: 0 });
      expect(
        await post('email', { events: [{ message_id: 'msg-bounce', type: 'bounce' }] }).then((r) => r.json()),
      ).toEqual({ applied: 0, unchanged: 1, unknown: 0 });
      const row = await delivery(d.deliveryId);
      expect(row.status).toBe('bounced');
      expect(row.last_error).toContain('550 no such user');
      expect(await counter('bounced')).toBe(before + 1);
      const [s] = await db.sql<{ category: string; reason: string }[]>`
        select category, reason from notify_suppressions where channel = 'email' and address = ${d.email.toLowerCase()}`;
      expect(s).toEqual({ category: '*', reason: 'bounce' });
      const { recipients } = await recipientsForUsers(db.sql, 'email', 'transactional', [d.user]);
      expect(recipients[0]!.suppressed).toBe('address suppressed: bounce');
    });

    it('a soft bounce only notes the reason; a complaint suppresses; failed fails', async () => {
      const soft = await sentDelivery({ messageId: 'msg-soft' });
      const complained = await sentDelivery({ messageId: 'msg-complaint' });
      const failed = await sentDelivery({ messageId: 'msg-failed' });
      const response = await post('email', {
        events: [
          { message_id: 'msg-soft', type: 'bounce', bounce_type: 'soft', reason: 'mailbox full' },
          { message_id: 'msg-complaint', type: 'complaint' },
          { message_id: 'msg-failed', type: 'failed', reason: 'rejected' },
        ],
      });
      expect(response.json()).toEqual({ applied: 3, unchanged: 0, unknown: 0 });
      const softRow = await delivery(soft.deliveryId);
      expect(softRow.status).toBe('sent');
      expect(softRow.last_error).toContain('mailbox full');
      expect((await delivery(complained.deliveryId)).status).toBe('sent');
      const suppressed = await db.sql<{ address: string; reason: string }[]>`
        select address, reason from notify_suppressions
        where address in (${soft.email.toLowerCase()}, ${complained.email.toLowerCase()})`;
      expect(suppressed).toEqual([{ address: complained.email.toLowerCase(), reason: 'complaint' }]);
      expect((await delivery(failed.deliveryId)).status).toBe('failed');
    });

    it('bodies that are not callbacks are 400 naming the problem; an unknown channel is 400', async () => {
      for (const [body, message] of [
        [{}, 'events'],
        [{ events: [{ type: 'delivered' }] }, 'message_id or delivery_id'],
        [{ events: [{ delivery_id: 1, type: 'exploded' }] }, 'type'],
        [{ events: [{ delivery_id: -1, type: 'delivered' }] }, 'delivery_id'],
        [{ events: [{ delivery_id: 1, type: 'bounce', bounce_type: 'medium' }] }, 'bounce_type'],
        [{ events: [{ delivery_id: 1, type: 'delivered', at: 'yesterday' }] }, 'at'],
      ] as const) {
        const response = await post('email', body);
        expect(response.statusCode).toBe(400);
        expect(response.json().message).toContain(message);
      }
      const notJson = await app.inject({
        method: 'POST',
        url: '/api/notify/callbacks/email',
        headers: { 'content-type': 'application/json', 'x-notify-signature': signCallback(callbackKey, '{') },
        payload: '{',
      });
      expect(notJson.statusCode).toBe(400);
      expect((await post('fax', { events: [] })).statusCode).toBe(400);
    });
  });
});
