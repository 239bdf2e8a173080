import { seededUserCredentials } from '../../src/identity/index.ts';
import type { Scenario, ServerFigures } from '../lib/scenario.ts';
import { readJson, readMetrics, sum } from '../lib/status.ts';

/** Event 1, the stadium: 1,000 rows of 100 seats (src/booking/seating/layout.ts). */
const EVENT = 1;
const ROWS = 1_000;
const PAGE_SIZE = 5;
/** Seeded buyers to use (signing each in costs a slow hash once per server process). */
const USERS = Number(process.env.BENCH_BOOKING_USERS ?? 200);
/** The seed of the profile the server was seeded with (`boxoffice seed`; the demo profile uses 1). */
const SEED = Number(process.env.BENCH_BOOKING_SEED ?? 1);

const random = (n: number) => Math.floor(Math.random() * n);

interface Data {
  auths: string[];
  /** Event 1's held seats and the answered selects when the load began. */
  baseline: Holds | null;
}

interface Holds {
  reserved: number;
  selected: number;
}

/** GET /api/analytics answers are cached this long by default (BOOKING_ANALYTICS_CACHE_MS). */
const ANALYTICS_CACHE_MS = 1_000;

/** Seats of event 1 held now (analytics) and selects answered 200 so far (/metrics); null if not served. */
async function readHolds(statusUrl: string, auth: string): Promise<Holds | null> {
  await new Promise((resolve) => setTimeout(resolve, ANALYTICS_CACHE_MS + 100));
  const analytics = await readJson<{ reserved_seats: number }>(`${statusUrl}/api/analytics?id=${EVENT}`, {
    authorization: auth,
  });
  const samples = await readMetrics(statusUrl);
  if (!analytics || !samples) return null;
  const selected = sum(samples, 'http_requests_total', {
    method: 'PATCH',
    route: '/api/seats/select',
    status: '200',
  });
  return { reserved: analytics.reserved_seats, selected };
}

/**
 * The box-office rush (docs/booking.md, docs/performance.md): each virtual user lists 5 FREE seats of a random
 * row of event 1, creates a booking and selects the first seat listed: three authenticated requests per hold.
 * Users collide when they draw the same row at the same moment (419 for all but one). Setup resets the
 * bookings (POST /api/reset) and signs every user in once, so the measured load pays the cached Basic Auth
 * path only. Holds per second and double holds are counted in the database afterwards (docs/performance.md).
 */
const bookingRush: Scenario = {
  name: 'booking-rush',
  description: 'List 5 FREE seats of a random row of event 1, create a booking, select the first seat',
  async setup({ baseUrl, statusUrl }) {
    const auths: string[] = [];
    for (let id = 1; auths.length < USERS && id <= USERS * 3; id++) {
      const user = seededUserCredentials(SEED, id);
      if (user.active)
        auths.push(`Basic ${Buffer.from(`${user.email}:${user.password}`).toString('base64')}`);
    }
    const reset = await fetch(`${baseUrl}/api/reset`, { method: 'POST' });
    await reset.arrayBuffer();
    if (!reset.ok)
      throw new Error(`POST /api/reset answered ${reset.status}: the rush needs a clean event 1`);
    // Sign everyone in once (a slow hash each) before the clock starts; also checks the users exist.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < auths.length) {
          const auth = auths[next++]!;
          const response = await fetch(`${baseUrl}/api/bookings?pageSize=1`, {
            headers: { authorization: auth },
          });
          await response.arrayBuffer();
          if (!response.ok) {
            throw new Error(
              `a seeded user could not sign in (${response.status}): seed the server with the demo profile (seed ${SEED})`,
            );
          }
        }
      }),
    );
    const seats = await fetch(`${baseUrl}/api/seats?event_id=${EVENT}&pageSize=1`, {
      headers: { authorization: auths[0]! },
    });
    const first = (await seats.json()) as { id: number }[];
    if (!seats.ok || first.length === 0) throw new Error(`event ${EVENT} has no seats (${seats.status})`);
    return { auths, baseline: await readHolds(statusUrl, auths[0]!) } satisfies Data;
  },
  load({ data }) {
    const { auths } = data as Data;
    const json = { 'content-type': 'application/json' };
    return {
      kind: 'flow',
      wrk: {
        script: 'booking-rush.lua',
        vars: { auths: auths.join('|'), rows: ROWS, event: EVENT, pageSize: PAGE_SIZE },
      },
      autocannon: {
        steps: [
          {
            method: 'GET',
            setupRequest: (request, context) => {
              const auth = auths[random(auths.length)]!;
              context.auth = auth;
              context.seat = undefined;
              context.booking = undefined;
              return {
                ...request,
                path: `/api/seats?event_id=${EVENT}&row=${random(ROWS) + 1}&status=FREE&pageSize=${PAGE_SIZE}`,
                headers: { authorization: auth },
              };
            },
            onResponse: (status, body, context) => {
              if (status === 200) context.seat = (JSON.parse(body) as { id: number }[])[0]?.id;
            },
          },
          {
            method: 'POST',
            path: '/api/bookings',
            setupRequest: (request, context) =>
              context.seat === undefined
                ? undefined
                : {
                    ...request,
                    headers: { ...json, authorization: context.auth as string },
                    body: JSON.stringify({ event_id: EVENT }),
                  },
            onResponse: (status, body, context) => {
              if (status === 201) context.booking = (JSON.parse(body) as { id: number }).id;
            },
          },
          {
            method: 'PATCH',
            path: '/api/seats/select',
            setupRequest: (request, context) =>
              context.booking === undefined
                ? undefined
                : {
                    ...request,
                    headers: { ...json, authorization: context.auth as string },
                    body: JSON.stringify({ booking_id: context.booking, seat_id: context.seat }),
                  },
          },
        ],
      },
    };
  },
  /**
   * Holds made by the run, from the server: seats of event 1 held now minus held at the start (holds last
   * 5 minutes and nothing in the flow releases one), and selects answered 200. The two differ by the
   * selects still in flight when the load stopped (held, answered to a closed connection). Double holds
   * are not visible through the API: the database refuses them (`booking_seats` is keyed by seat), the
   * tests race for them, and docs/performance.md has the query that counts them after a run.
   */
  async summarize({ statusUrl, data, loadSeconds }): Promise<ServerFigures> {
    const { auths, baseline } = data as Data;
    const now = await readHolds(statusUrl, auths[0]!);
    if (!baseline || !now) return { note: `no analytics or /metrics at ${statusUrl}` };
    const holds = now.reserved - baseline.reserved;
    return {
      'holds (warm-up + run)': holds,
      'holds/s': Math.round(holds / loadSeconds),
      'selects 200': now.selected - baseline.selected,
    };
  },
};

export default bookingRush;
