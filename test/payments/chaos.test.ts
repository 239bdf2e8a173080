import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent, pool } from '../booking/harness.ts';
import { assertConsistent, initiate, type PaymentsServer, startPaymentsServer } from './harness.ts';

const EVENT = 2;
/** Event 2's seats: ids 100001 … 100100 (src/booking/seating/layout.ts). */
const FIRST_SEAT = 100_001;
const BUYERS = 40;

/**
 * Every failure mode at once, at random, with buyers paying in parallel: init and confirm answers lost (20 %),
 * bank failures (20 %), webhooks lost (20 %), duplicated (30 %) and delayed. Whatever the draw, once
 * reconciliation has run every payment is settled and the books agree with the gateway's.
 */
describe('payments: many buyers, every failure mode at random', () => {
  let server: PaymentsServer;
  beforeAll(async () => {
    server = await startPaymentsServer({
      users: 8,
      // Lost answers count against the breaker; here it must not open (breaker-flow.test.ts covers that).
      env: { BOOKING_TAKEN_CACHE_MS: '0', CIRCUIT_BREAKER_FAILURE_THRESHOLD: '1000' },
      behaviour: {
        autoPay: { card: '4111111111111111', delayMs: 5 },
        lostAnswerProbability: 0.2,
        lostAnswerCalls: ['init', 'confirm'],
        stallShare: 0,
        bankFailureProbability: 0.2,
        webhookLossProbability: 0.2,
        webhookDuplicateProbability: 0.3,
        webhookDelayMinMs: 0,
        webhookDelayMaxMs: 50,
      },
    });
    await makeEvent(server.sql, EVENT, {
      layout: {
        name: 'Chaos hall',
        kind: 'club',
        zones: [{ name: 'Floor', price: 2500, rows: 10, seatsPerRow: 10 }],
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('ends consistent: each booking paid once or cancelled, SOLD seats only in paid bookings', async () => {
    const bookings: number[] = [];
    await pool(BUYERS, 20, async (i) => {
      const buyer = server.users[i % server.users.length]!;
      const bookingId = await server.client.book(buyer, EVENT);
      bookings.push(bookingId);
      for (const seat of [FIRST_SEAT + 2 * i, FIRST_SEAT + 2 * i + 1]) {
        expect((await server.client.select(buyer, bookingId, seat)).status).toBe(200);
      }
      // A 504 (init answer lost on both attempts) is repeated, as a buyer's client would.
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await initiate(server, buyer, bookingId);
        if (answer.status !== 504) {
          // 409 PAYMENT_ENDED: the payment failed (bank failure) before its answer came back.
          expect([200, 409]).toContain(answer.status);
          break;
        }
      }
    });
    await server.sim.webhooksIdle();
    for (let round = 0; round < 8; round++) {
      const [open] = await server.sql<{ n: number }[]>`
        select count(*)::int as n from payments
        where state in ('initiating', 'pending', 'capturing', 'reversing', 'refunding')`;
      if (open!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await server.service.reconcile();
      await server.sim.webhooksIdle();
    }
    await assertConsistent(server).catch(async (error: Error) => {
      const gone = /payment (pay_\w+)/.exec(error.message)?.[1];
      const rows = await server.sql`
        select p.id, p.order_id, p.gateway_payment_id, p.state, t.from_state, t.to_state, t.gateway_status, t.source, t.reference, t.detail
        from payments p join payment_transitions t on t.payment_id = p.id
        where p.order_id in (select order_id from payments where gateway_payment_id = ${gone ?? ''}) order by t.id`;
      console.log(JSON.stringify(rows, null, 1));
      console.log(
        JSON.stringify(
          server.sim.payments().filter((x) => rows.some((r) => r.order_id === x.orderId)),
          null,
          1,
        ),
      );
      throw error;
    });
    const states = await server.sql<{ status: string; n: number }[]>`
      select status::text, count(*)::int as n from bookings group by status order by status`;
    const byStatus = Object.fromEntries(states.map((s) => [s.status, s.n]));
    // Every booking ended: paid, or cancelled by a failed payment (none left half-way).
    expect((byStatus.paid ?? 0) + (byStatus.cancelled ?? 0)).toBe(BUYERS);
    expect(byStatus.paid).toBeGreaterThan(0);
    const [sold] = await server.sql<{ n: number }[]>`select count(*)::int as n from booking_seats where sold`;
    expect(sold!.n).toBe(2 * byStatus.paid!);
    const analytics = await server.client.get(`/api/analytics?id=${EVENT}`, server.users[0]!.auth);
    expect(analytics.json()).toMatchObject({ sold_seats: 2 * byStatus.paid!, bookings_count: byStatus.paid });
  });
});
