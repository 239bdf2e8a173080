import nodemailer from 'nodemailer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { type NotifyPeers, startNotifyPeers } from '../../src/sims/notify/index.ts';

let peers: NotifyPeers;
beforeAll(async () => {
  peers = await startNotifyPeers();
});
afterAll(async () => {
  await peers?.stop();
});
beforeEach(() => {
  peers.smtp.configure(null);
  peers.sms.configure(null);
  peers.push.configure(null);
});

const mailer = () => {
  const url = new URL(peers.smtpUrl);
  return nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port),
    secure: false,
    ignoreTLS: true,
    pool: false,
    connectionTimeout: 5000,
  });
};
const send = (to: string, subject = 'Hello') =>
  mailer().sendMail({ from: 'box@example.test', to, subject, text: 'body' });
const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as { responseCode?: number; code?: string; message: string };
  }
  throw new Error('expected the send to fail');
};

describe('SMTP sink', () => {
  it('keeps a message with a Russian subject and List-Unsubscribe headers and shows it over HTTP', async () => {
    const subject = 'Ваш билет на концерт №42';
    await mailer().sendMail({
      from: '"Boxoffice" <box@example.test>',
      to: 'buyer@example.test',
      subject,
      text: 'Привет!',
      html: '<p>Привет!</p>',
      headers: {
        'List-Unsubscribe': '<https://box.example.test/u/abc>, <mailto:u@example.test>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    });
    const list = (await (
      await fetch(`${peers.inboxUrl}/api/messages?to=buyer@example.test&limit=5`)
    ).json()) as {
      messages: {
        id: string;
        subject: string;
        from: string;
        to: string[];
        headers: Record<string, string>;
      }[];
    };
    expect(list.messages).toHaveLength(1);
    const summary = list.messages[0]!;
    expect(summary.subject).toBe(subject);
    expect(summary.from).toBe('box@example.test');
    expect(summary.to).toEqual(['buyer@example.test']);
    expect(summary.headers['list-unsubscribe']).toBe(
      '<https://box.example.test/u/abc>, <mailto:u@example.test>',
    );
    expect(summary.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    const full = (await (await fetch(`${peers.inboxUrl}/api/messages/${summary.id}`)).json()) as {
      text: string;
      html: string;
    };
    expect(full.text.trim()).toBe('Привет!');
    expect(full.html).toContain('<p>Привет!</p>');
    const other = (await (await fetch(`${peers.inboxUrl}/api/messages?to=nobody@example.test`)).json()) as {
      messages: unknown[];
    };
    expect(other.messages).toHaveLength(0);
    expect((await fetch(`${peers.inboxUrl}/api/messages`, { method: 'DELETE' })).status).toBe(200);
    expect(peers.smtp.messages()).toHaveLength(0);
  });

  it('answers 451 (temporary) at RCPT for a one-shot 4xx, then accepts', async () => {
    peers.smtp.inject({ mode: '4xx' });
    const error = await failure(send('a@example.test'));
    expect(error.responseCode).toBe(451);
    await send('a@example.test');
    expect(peers.smtp.messages({ to: 'a@example.test' })).toHaveLength(1);
  });

  it('answers 451 at DATA when asked, over the HTTP fault endpoint', async () => {
    const posted = await fetch(`${peers.inboxUrl}/__sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ mode: '4xx', stage: 'data' }),
    });
    expect(posted.status).toBe(202);
    const error = await failure(send('d@example.test'));
    expect(error.responseCode).toBe(451);
    expect(peers.smtp.messages({ to: 'd@example.test' })).toHaveLength(0);
  });

  it('answers 550 only for the scoped recipient', async () => {
    peers.smtp.configure({ mode: '5xx', to: 'bad@example.test' });
    const error = await failure(send('bad@example.test'));
    expect(error.responseCode).toBe(550);
    await send('good@example.test');
    expect(peers.smtp.messages({ to: 'good@example.test' })).toHaveLength(1);
    expect(peers.smtp.messages({ to: 'bad@example.test' })).toHaveLength(0);
  });

  it('refuse closes the connection at connect', async () => {
    peers.smtp.inject({ mode: 'refuse' });
    const error = await failure(send('r@example.test'));
    expect(error.responseCode).toBeUndefined();
    expect(['ECONNRESET', 'ECONNECTION', 'ESOCKET']).toContain(error.code);
  });

  it('cut destroys the socket mid-DATA and keeps nothing', async () => {
    peers.smtp.inject({ mode: 'cut' });
    const error = await failure(send('c@example.test'));
    expect(error.responseCode).toBeUndefined();
    expect(['ECONNRESET', 'ECONNECTION', 'ESOCKET']).toContain(error.code);
    expect(peers.smtp.messages({ to: 'c@example.test' })).toHaveLength(0);
  });

  it('slow delays the DATA answer until released', async () => {
    peers.smtp.inject({ mode: 'slow', delayMs: 400 });
    let done = false;
    const sending = send('s@example.test').then(() => {
      done = true;
    });
    // The message is not answered while the fault holds it: nothing stored yet and the send not finished.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(done).toBe(false);
    await sending;
    expect(peers.smtp.messages({ to: 's@example.test' })).toHaveLength(1);
  });
});

describe('SMS provider', () => {
  const post = (body: unknown) =>
    fetch(`${peers.smsUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('accepts a message with 202 and an id, and lists it by recipient', async () => {
    const res = await post({ to: '+79991234567', text: 'Ваш код 1234', sender: 'BOX' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const list = (await (await fetch(`${peers.smsUrl}/messages?to=%2B79991234567`)).json()) as {
      messages: { id: string; text: string; extra: Record<string, unknown> }[];
    };
    expect(list.messages.map((m) => m.id)).toEqual([id]);
    expect(list.messages[0]!.text).toBe('Ваш код 1234');
    expect(list.messages[0]!.extra.sender).toBe('BOX');
    expect((await post({ to: 'nope', text: 'x' })).status).toBe(422);
  });

  it('503 and 429 with Retry-After as one-shot faults, then accepts', async () => {
    peers.sms.inject({ mode: '5xx' });
    peers.sms.inject({ mode: '429', retryAfterSeconds: 7 });
    expect((await post({ to: '+70000000001', text: 'a' })).status).toBe(503);
    const limited = await post({ to: '+70000000001', text: 'a' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect((await post({ to: '+70000000001', text: 'a' })).status).toBe(202);
    expect(peers.sms.messages({ to: '+70000000001' })).toHaveLength(1);
  });

  it('cut destroys the socket', async () => {
    peers.sms.inject({ mode: 'cut' });
    await expect(post({ to: '+70000000002', text: 'a' })).rejects.toThrow();
    expect(peers.sms.messages({ to: '+70000000002' })).toHaveLength(0);
  });
});

describe('Web Push service', () => {
  const vapid = webpush.generateVAPIDKeys();
  const vapidDetails = {
    subject: 'mailto:ops@example.test',
    publicKey: vapid.publicKey,
    privateKey: vapid.privateKey,
  };
  // web-push's sendNotification only speaks HTTPS; generateRequestDetails builds the very same request.
  const deliver = async (subscription: webpush.PushSubscription, payload: string, keys = vapidDetails) => {
    const details = webpush.generateRequestDetails(subscription, payload, { vapidDetails: keys, TTL: 60 });
    return fetch(details.endpoint, {
      method: details.method,
      headers: details.headers as Record<string, string>,
      body: details.body ?? null,
    });
  };

  it('accepts an encrypted push with 201 and decrypts it to what was sent', async () => {
    const subscription = peers.push.createSubscription();
    expect(Buffer.from(subscription.keys.p256dh, 'base64url')).toHaveLength(65);
    expect(Buffer.from(subscription.keys.auth, 'base64url')).toHaveLength(16);
    const payload = JSON.stringify({ title: 'Билет готов', url: '/tickets/1' });
    const res = await deliver(subscription, payload);
    expect(res.status).toBe(201);
    const id = subscription.endpoint.split('/').pop()!;
    const got = peers.push.received({ subscriptionId: id });
    expect(got).toHaveLength(1);
    expect(got[0]!.plaintext.toString('utf8')).toBe(payload);
    expect(got[0]!.vapidKey).toBe(vapid.publicKey);
    expect(got[0]!.ttl).toBe(60);
  });

  it('rejects a bad VAPID signature with 401 and a wrong audience with 403', async () => {
    const subscription = peers.push.createSubscription();
    const other = webpush.generateVAPIDKeys();
    // Signed with one key, presented with another.
    const details = webpush.generateRequestDetails(subscription, 'x', { vapidDetails });
    const auth = (details.headers as Record<string, string>).Authorization!.replace(
      /k=[^,\s]+/,
      `k=${other.publicKey}`,
    );
    const bad = await fetch(details.endpoint, {
      method: 'POST',
      headers: { ...(details.headers as Record<string, string>), Authorization: auth },
      body: details.body ?? null,
    });
    expect(bad.status).toBe(401);
    const wrongAud = webpush.getVapidHeaders(
      'https://elsewhere.example',
      vapidDetails.subject,
      vapid.publicKey,
      vapid.privateKey,
      'aes128gcm',
    );
    const res = await fetch(details.endpoint, {
      method: 'POST',
      headers: { ...(details.headers as Record<string, string>), Authorization: wrongAud.Authorization },
      body: details.body ?? null,
    });
    expect(res.status).toBe(403);
    const missing = await fetch(details.endpoint, { method: 'POST', body: details.body ?? null });
    expect(missing.status).toBe(401);
    expect(peers.push.received({ subscriptionId: subscription.endpoint.split('/').pop()! })).toHaveLength(0);
  });

  it('answers 410 for a removed subscription and for a gone fault', async () => {
    const removed = peers.push.createSubscription();
    peers.push.removeSubscription(removed.endpoint);
    expect((await deliver(removed, 'x')).status).toBe(410);
    const live = peers.push.createSubscription();
    peers.push.inject({ mode: 'gone', to: live.endpoint.split('/').pop()! });
    expect((await deliver(live, 'x')).status).toBe(410);
    expect((await deliver(live, 'x')).status).toBe(201);
  });

  it('503 and 429 faults', async () => {
    const subscription = peers.push.createSubscription();
    peers.push.inject({ mode: '5xx' });
    expect((await deliver(subscription, 'x')).status).toBe(503);
    peers.push.inject({ mode: '429', retryAfterSeconds: 3 });
    const res = await deliver(subscription, 'x');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
  });
});
