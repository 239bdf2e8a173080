import { request } from 'node:http';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveSnapshot, purchaseRate } from '../../src/admin/live.ts';
import { bookingServiceOf, firstSeatId } from '../../src/booking/index.ts';
import { makeEvent, makeUsers, SMALL_HALL } from '../booking/harness.ts';
import { type Browser, signIn } from '../identity/staff/harness.ts';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import { type PanelServer, startPanelServer } from './harness.ts';

type Caller = 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY' | 'admin' | 'manager' | 'analyst' | 'none';
const EXPECTED: Record<Caller, number> = {
  ADMIN: 200,
  READONLY: 200,
  USER: 403,
  AUDITOR: 403,
  admin: 200,
  manager: 200,
  analyst: 200,
  none: 401,
};

/** An open `GET /api/admin/live` over a real socket: its snapshots as they come, and whether it ended. */
interface Stream {
  status: number;
  contentType: string | undefined;
  snapshots: LiveSnapshot[];
  comments: string[];
  ended: boolean;
  close(): void;
}

function openStream(url: string, cookie: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      const stream: Stream = {
        status: res.statusCode ?? 0,
        contentType: res.headers['content-type'],
        snapshots: [],
        comments: [],
        ended: false,
        close: () => req.destroy(),
      };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          for (const line of lines) if (line.startsWith(':')) stream.comments.push(line.slice(1).trim());
          if (lines.includes('event: snapshot')) {
            const data = lines.find((l) => l.startsWith('data: '));
            if (data) stream.snapshots.push(JSON.parse(data.slice(6)) as LiveSnapshot);
          }
          end = buffer.indexOf('\n\n');
        }
      });
      const ended = () => {
        stream.ended = true;
      };
      res.on('end', ended);
      res.on('close', ended);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the live dashboard routes', () => {
  let server: PanelServer;
  let stopped = false;
  const tokens = new Map<Caller, string>();
  const staff = new Map<Caller, Browser>();
  const EVENT = 7301;
  const SEAT = firstSeatId(EVENT);

  beforeAll(async () => {
    server = await startPanelServer({ BOOKING_ANALYTICS_CACHE_MS: '0' });
    const app = server.running.app!;
    for (const role of ['ADMIN', 'USER', 'AUDITOR', 'READONLY'] as const) {
      tokens.set(role, await tokenFor(app, await createAccount(server.db, role)));
    }
    for (const role of ['admin', 'manager', 'analyst'] as const) {
      staff.set(role, await signIn(server.running, server.staff[role]));
    }
    await makeEvent(server.db.sql, EVENT, { layout: SMALL_HALL, title: 'Live routes test' });
  }, 120_000);
  afterAll(async () => {
    if (!stopped) await server?.stop();
  });

  const as = (caller: Caller, options: InjectOptions) => {
    const app = server.running.app!;
    if (caller === 'none') return app.inject(options);
    const token = tokens.get(caller);
    if (token) return app.inject({ ...options, headers: { authorization: `Bearer ${token}` } });
    return staff.get(caller)!.send(server.running, options);
  };

  it('lets sales:read in (admin, manager, analyst, ADMIN, READONLY) and no one else', async () => {
    for (const caller of Object.keys(EXPECTED) as Caller[]) {
      const overview = await as(caller, { method: 'GET', url: `/api/admin/overview?event_id=${EVENT}` });
      expect(overview.statusCode, `${caller} overview`).toBe(EXPECTED[caller]);
    }
    // The stream the same way (without `Accept: text/event-stream` it sends one snapshot and ends).
    for (const caller of Object.keys(EXPECTED) as Caller[]) {
      const live = await as(caller, { method: 'GET', url: '/api/admin/live' });
      expect(live.statusCode, `${caller} live`).toBe(EXPECTED[caller]);
      if (live.statusCode !== 200) continue;
      expect(live.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(live.body).toMatch(/^event: snapshot\ndata: \{.*\}\n\n$/);
    }
  });

  it('answers one snapshot with the event’s zones, the drop, the breaker and notify', async () => {
    const response = await as('analyst', { method: 'GET', url: `/api/admin/overview?event_id=${EVENT}` });
    const body = response.json() as LiveSnapshot;
    expect(body.sales.event_id).toBe(EVENT);
    expect(body.sales.events).toHaveLength(1);
    const [event] = body.sales.events;
    expect(event).toMatchObject({
      event_id: EVENT,
      title: 'Live routes test',
      total_seats: 15,
      free_seats: 15,
    });
    expect(event!.zones.map((z) => z.name)).toEqual(['A', 'B']);
    expect(body.drop).toMatchObject({ items: expect.any(Number), left: expect.any(Number) });
    expect(body.breaker?.state).toBe('Closed');
    expect(body.notify).toMatchObject({ queued: 0, dead_letters: 0, sent_last_minute: 0 });
    // Without an event: the events of the newest bookings (or the first with a seat map).
    const recent = (
      await as('analyst', { method: 'GET', url: '/api/admin/overview' })
    ).json() as LiveSnapshot;
    expect(recent.sales.event_id).toBeNull();
    expect(recent.sales.events.map((e) => e.event_id)).toContain(EVENT);
  });

  it('refuses a bad event_id with 400 and an unknown event with 404', async () => {
    for (const bad of ['abc', '0', '-3', '1.5', '99999999999999999999']) {
      for (const path of ['overview', 'live']) {
        const response = await as('admin', { method: 'GET', url: `/api/admin/${path}?event_id=${bad}` });
        expect(response.statusCode, `${path} ${bad}`).toBe(400);
      }
    }
    for (const path of ['overview', 'live']) {
      const response = await as('admin', { method: 'GET', url: `/api/admin/${path}?event_id=424242` });
      expect(response.statusCode, path).toBe(404);
    }
  });

  it('documents both routes in /openapi.json, the stream as text/event-stream', async () => {
    const spec = (await server.running.app!.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.paths['/api/admin/overview'].get).toBeDefined();
    expect(Object.keys(spec.paths['/api/admin/live'].get.responses['200'].content)).toEqual([
      'text/event-stream',
    ]);
  });

  it('streams a snapshot at once and another that shows a hold made afterwards', async () => {
    const stream = await openStream(
      `${server.url}/api/admin/live?event_id=${EVENT}`,
      staff.get('analyst')!.cookie,
    );
    try {
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      await expect.poll(() => stream.snapshots.length).toBeGreaterThan(0);
      expect(stream.comments).toContain('connected');
      const before = stream.snapshots[0]!.sales.events[0]!;
      expect(before.reserved_seats).toBe(0);

      const [buyer] = await makeUsers(server.db.sql, 1, 'live');
      const booking = bookingServiceOf(server.platform)!;
      const { id } = await booking.createBooking(buyer!, EVENT);
      await booking.selectSeat(buyer!, id, SEAT);

      await expect
        .poll(() => stream.snapshots.at(-1)?.sales.events[0]?.reserved_seats, { timeout: 10_000 })
        .toBe(1);
      const after = stream.snapshots.at(-1)!.sales.events[0]!;
      expect(after.zones.find((z) => z.name === 'A')).toMatchObject({ reserved_seats: 1, free_seats: 9 });
    } finally {
      stream.close();
    }
  });

  it('ends open streams when the server stops, and the stop does not wait for them', async () => {
    const cookie = staff.get('manager')!.cookie;
    const streams = await Promise.all([
      openStream(`${server.url}/api/admin/live`, cookie),
      openStream(`${server.url}/api/admin/live?event_id=${EVENT}`, cookie),
    ]);
    for (const stream of streams) await expect.poll(() => stream.snapshots.length).toBeGreaterThan(0);
    stopped = true;
    await server.stop();
    for (const stream of streams) await expect.poll(() => stream.ended).toBe(true);
  });
});

describe('the drop’s purchase rate', () => {
  const sale = {
    sale: 1,
    startsAt: '2026-01-01T10:00:00.000Z',
    endsAt: '2026-01-01T11:00:00.000Z',
    items: 100,
    left: 60,
    sold: 40,
    reserved: 0,
    perUserLimit: 1,
    reservationSeconds: 60,
    firstCheckoutAt: '2026-01-01T10:00:00.000Z',
    soldOutAt: null,
  };
  const at = (s: number) => Date.parse('2026-01-01T10:00:00.000Z') + s * 1000;

  it('is the change between snapshots over the last seconds, else the sale’s average, else null', () => {
    const samples = [
      { at: at(10), sale: 1, sold: 20 },
      { at: at(14), sale: 1, sold: 40 },
    ];
    expect(purchaseRate(samples, sale, at(14))).toBe(5);
    expect(purchaseRate([{ at: at(20), sale: 1, sold: 40 }], sale, at(20))).toBe(2);
    expect(purchaseRate([], { ...sale, sold: 0, firstCheckoutAt: null }, at(20))).toBeNull();
    // A sold-out sale's average ends at its sell-out time.
    const soldOut = { ...sale, sold: 100, left: 0, soldOutAt: '2026-01-01T10:00:50.000Z' };
    expect(purchaseRate([{ at: at(90), sale: 1, sold: 100 }], soldOut, at(90))).toBe(2);
  });
});
