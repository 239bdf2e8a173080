import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTIFY_CONSUMER } from '../../src/notify/events.ts';
import { publish } from '../../src/platform/outbox/index.ts';
import type { SinkMessage } from '../../src/sims/notify/index.ts';
import {
  createTestDatabase,
  eventually,
  makeUser,
  type NotifyPeers,
  type NotifyServer,
  startNotifyPeers,
  startNotifyServer,
  type TestDatabase,
} from './harness.ts';

/**
 * The platform's own events → an email to the buyer (docs/notify.md, "Platform events"), end to end: an
 * outbox event published in a transaction, consumed by the `start` role's notify consumer, rendered from the
 * default template in the buyer's locale and sent into the development SMTP sink.
 */
let db: TestDatabase;
let peers: NotifyPeers;
let server: NotifyServer;

beforeAll(async () => {
  db = await createTestDatabase();
  peers = await startNotifyPeers();
  server = await startNotifyServer(db, peers);
});

afterAll(async () => {
  await server?.stop();
  await peers?.stop();
  await db?.drop();
});

/** Publishes one event in its own transaction; returns its outbox id. */
async function emit(topic: string, payload: Record<string, unknown>): Promise<string> {
  return db.sql.begin(async (tx) => {
    await publish(tx, { topic, key: String(payload.bookingId ?? payload.code ?? ''), payload });
    const [row] = await tx<{ id: string }[]>`
      select currval(pg_get_serial_sequence('outbox_events', 'id'))::text as id`;
    return row!.id;
  });
}

const mailTo = (address: string) => peers.smtp.messages({ to: address, limit: 100 });

const firstMailTo = (address: string) =>
  eventually<SinkMessage>(async () => mailTo(address)[0], `a message to ${address}`);

/** Notifications the consumer made for one outbox event. */
async function notificationsFor(eventId: string): Promise<number> {
  const [row] = await db.sql<{ n: string }[]>`
    select count(*) as n from notify_notifications where content_id = ${`outbox:${eventId}`}`;
  return Number(row!.n);
}

/** Where a tracked link of the email leads: the click redirect's Location. */
async function clickTarget(html: string, text: string): Promise<string> {
  const anchor = new RegExp(`<a\\b[^>]*href="([^"]+)"[^>]*>${text}</a>`).exec(html);
  expect(anchor, `a link "${text}" in ${html}`).not.toBeNull();
  const href = anchor![1]!.replace(/&amp;/g, '&');
  const path = new URL(href).pathname;
  expect(path).toMatch(/^\/api\/notify\/t\/c\/.+/);
  const response = await server.app.inject({ method: 'GET', url: path });
  expect(response.statusCode).toBe(302);
  return String(response.headers.location);
}

const bookingPayload = (bookingId: number, userId: number) => ({
  bookingId,
  eventId: 1,
  userId,
  seatIds: [1],
  amount: '4500.00',
  currency: 'RUB',
});

const paymentPayload = (bookingId: number, userId: number, extra: Record<string, unknown> = {}) => ({
  paymentId: bookingId,
  bookingId,
  eventId: 1,
  userId,
  orderId: `order-${bookingId}`,
  gatewayPaymentId: `gw-${bookingId}`,
  state: 'failed',
  gatewayStatus: null,
  amount: '4500.00',
  currency: 'RUB',
  ...extra,
});

const dropPayload = (userId: number, code: string) => ({
  sale: 7,
  item: { id: 3, name: 'Hoodie', imageUrl: 'https://example.test/hoodie.png' },
  userId: String(userId),
  code,
  purchasedAt: new Date().toISOString(),
});

describe('booking.paid', () => {
  it('a Russian buyer gets the Russian message with a tracked link to the e-tickets', async () => {
    const user = await makeUser(db.sql, { email: 'ru-buyer@example.test', locale: 'ru' });
    const id = await emit('booking.paid', bookingPayload(1, user));
    const mail = await firstMailTo('ru-buyer@example.test');
    // No event 1 in the catalog: the title falls back to its number.
    expect(mail.subject).toBe('Заказ №1 оплачен: #1');
    expect(mail.html).toContain('спасибо за покупку');
    expect(mail.html).toContain('4500.00 RUB');
    // The link is rewritten to a click redirect; it leads to the booking's tickets.
    expect(mail.html).not.toContain('/api/bookings/1/tickets.pdf');
    const target = await clickTarget(mail.html ?? '', 'Электронные билеты');
    expect(new URL(target).pathname).toBe('/api/bookings/1/tickets.pdf');
    expect(await notificationsFor(id)).toBe(1);
  });

  it('an English buyer gets English', async () => {
    const user = await makeUser(db.sql, { email: 'en-buyer@example.test', locale: 'en' });
    await emit('booking.paid', bookingPayload(2, user));
    const mail = await firstMailTo('en-buyer@example.test');
    expect(mail.subject).toBe('Booking #2 is paid: #1');
    expect(mail.html).toContain('thank you for your purchase');
    const target = await clickTarget(mail.html ?? '', 'Your e-tickets');
    expect(new URL(target).pathname).toBe('/api/bookings/2/tickets.pdf');
  });
});

describe('payments', () => {
  it('payment.failed: the buyer is told, with the reason', async () => {
    const user = await makeUser(db.sql, { email: 'failed@example.test', locale: 'ru' });
    const id = await emit('payment.failed', paymentPayload(3, user, { reason: 'declined' }));
    const mail = await firstMailTo('failed@example.test');
    expect(mail.subject).toBe('Оплата заказа №3 не прошла');
    expect(mail.html).toContain('(declined)');
    expect(mail.html).toContain('Деньги не списаны');
    expect(await notificationsFor(id)).toBe(1);
  });

  it('payment.refunded: the buyer is told the money went back', async () => {
    const user = await makeUser(db.sql, { email: 'refund@example.test', locale: 'en' });
    const id = await emit('payment.refunded', paymentPayload(4, user, { state: 'refunded' }));
    const mail = await firstMailTo('refund@example.test');
    expect(mail.subject).toBe('Refund for booking #4');
    expect(mail.html).toContain('(4500.00 RUB) went back to your card');
    expect(await notificationsFor(id)).toBe(1);
  });
});

describe('drop.purchased', () => {
  it('a buyer without a contact gets nothing; with one, the purchase message', async () => {
    const silent = await makeUser(db.sql);
    const silentEmail = `user${silent}@example.test`;
    const silentId = await emit('drop.purchased', dropPayload(silent, 'SILENT1'));
    const buyer = await makeUser(db.sql, { email: 'drop@example.test', locale: 'ru' });
    const buyerId = await emit('drop.purchased', dropPayload(buyer, 'A1B2C3'));

    const mail = await firstMailTo('drop@example.test');
    expect(mail.subject).toBe('Вы купили «Hoodie» в дропе');
    expect(mail.html).toContain('<b>A1B2C3</b>');
    expect(await notificationsFor(buyerId)).toBe(1);
    // Events are consumed in order: the first one was handled before the second's message was made.
    expect(await notificationsFor(silentId)).toBe(0);
    expect(mailTo(silentEmail)).toEqual([]);
  });
});

describe('redelivery', () => {
  it('an event consumed again makes no second notification or message', async () => {
    const user = await makeUser(db.sql, { email: 'twice@example.test', locale: 'en' });
    const id = await emit('booking.paid', bookingPayload(5, user));
    await firstMailTo('twice@example.test');
    const handled = await db.sql<{ id: string }[]>`
      select id::text from outbox_events where topic like any(array['booking.%', 'payment.%', 'drop.%'])`;

    // At-least-once: the consumer's cursor goes back, so every event so far is handed to it again.
    await db.sql`update outbox_cursors set position = 0 where consumer = ${NOTIFY_CONSUMER}`;
    const marker = await makeUser(db.sql, { email: 'marker@example.test', locale: 'en' });
    const markerId = await emit('booking.paid', bookingPayload(6, marker));
    await firstMailTo('marker@example.test');
    // The marker came after them all: by its message, every earlier event was consumed the second time.
    expect(await notificationsFor(markerId)).toBe(1);
    for (const event of handled)
      expect(await notificationsFor(event.id), `event ${event.id}`).toBeLessThanOrEqual(1);
    expect(await notificationsFor(id)).toBe(1);
    expect(mailTo('twice@example.test')).toHaveLength(1);
  });
});
