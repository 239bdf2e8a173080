import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginPayment, confirmPayment } from '../../src/booking/index.ts';
import type { Tx } from '../../src/platform/db/client.ts';
import {
  type BookingServer,
  Client,
  makeEvent,
  makeUsers,
  SMALL_HALL,
  startBookingServer,
  type TestUser,
} from './harness.ts';

const EMPTY_BOOKINGS = 150;

/**
 * `GET /api/bookings` for a client that creates a booking per attempt: without paging parameters the bookings
 * that hold seats, are being paid for or are paid are all in the answer, however many empty ones came after.
 */
describe('GET /api/bookings', () => {
  let server: BookingServer;
  let client: Client;
  let alice: TestUser;
  let bob: TestUser;
  const ids: Record<'holding' | 'paid' | 'paying' | 'payingSwept' | 'cancelled', number> = {
    holding: 0,
    paid: 0,
    paying: 0,
    payingSwept: 0,
    cancelled: 0,
  };
  let empties: number[] = [];

  const hold = async (seat: number) => {
    const id = await client.book(alice, 1);
    expect((await client.select(alice, id, seat)).status).toBe(200);
    return id;
  };
  const inTx = (work: (tx: Tx) => Promise<unknown>) => server.sql.begin((tx) => work(tx as unknown as Tx));

  beforeAll(async () => {
    server = await startBookingServer();
    client = new Client(server.url);
    [alice, bob] = (await makeUsers(server.sql, 2)) as [TestUser, TestUser];
    await makeEvent(server.sql, 1, { layout: SMALL_HALL });

    ids.holding = await hold(1);
    ids.paid = await hold(2);
    await inTx(async (tx) => {
      await beginPayment(tx, ids.paid, null);
      await confirmPayment(tx, ids.paid);
    });
    ids.paying = await hold(3);
    await inTx((tx) => beginPayment(tx, ids.paying, null));
    // Pending payment past its deadline, its holds expired and swept: still being paid for until it fails.
    ids.payingSwept = await hold(4);
    await inTx((tx) => beginPayment(tx, ids.payingSwept, new Date(Date.now() + 60_000)));
    await server.sql`delete from booking_seats where booking_id = ${ids.payingSwept}`;
    ids.cancelled = await hold(5);
    expect((await client.cancel(alice, ids.cancelled)).status).toBe(200);

    // One empty booking per attempt, all newer than the ones that matter; and another user's.
    const rows = await server.sql<{ id: string }[]>`
      insert into bookings (event_id, user_id)
      select 1, ${alice.id} from generate_series(1, ${EMPTY_BOOKINGS})
      returning id`;
    empties = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    await client.book(bob, 1);
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  const list = async (query = '') => {
    const answer = await client.get(`/api/bookings${query}`, alice.auth);
    expect(answer.status).toBe(200);
    return answer.json() as { id: number; event_id: number; seats: { id: number }[] }[];
  };

  it('lists every booking with seats or a payment, and the newest 100 others, newest first', async () => {
    const bookings = await list();
    const newestEmpties = empties.slice(-100).reverse();
    expect(bookings.map((b) => b.id)).toEqual([
      ...newestEmpties,
      ids.payingSwept,
      ids.paying,
      ids.paid,
      ids.holding,
    ]);
    const byId = new Map(bookings.map((b) => [b.id, b]));
    expect(byId.get(ids.holding)).toEqual({ id: ids.holding, event_id: 1, seats: [{ id: 1 }] });
    expect(byId.get(ids.paid)?.seats).toEqual([{ id: 2 }]);
    expect(byId.get(ids.paying)?.seats).toEqual([{ id: 3 }]);
    expect(byId.get(ids.payingSwept)?.seats).toEqual([]);
    expect(byId.get(newestEmpties[0]!)).toEqual({ id: newestEmpties[0], event_id: 1, seats: [] });
  });

  it('still pages through all of the caller’s bookings when asked to', async () => {
    const all = await list('?pageSize=1000');
    expect(all).toHaveLength(EMPTY_BOOKINGS + 5);
    expect(all.map((b) => b.id)).toContain(ids.cancelled);
    const second = await list('?page=2');
    expect(second.map((b) => b.id)).toEqual(all.slice(100, 200).map((b) => b.id));
    expect(await list('?page=3&pageSize=100')).toEqual([]);
    expect((await client.get('/api/bookings?pageSize=0', alice.auth)).status).toBe(400);
  });
});
