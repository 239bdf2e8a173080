import type { Queryable, Sql, Tx } from '../platform/db/client.ts';
import type { PaymentStatus } from './gateway/index.ts';
import type { PaymentState } from './states.ts';

/** SQL of the payments module's own tables (migrations/0040_payments.sql). */

export interface PaymentRow {
  id: number;
  bookingId: number;
  eventId: number;
  userId: number;
  orderId: string;
  gatewayPaymentId: string | null;
  state: PaymentState;
  gatewayStatus: PaymentStatus | null;
  failureReason: string | null;
  /** Decimal string, the sum of the seats' prices. */
  amount: string;
  amountMinor: number;
  currency: string;
  seatCount: number;
  paymentUrl: string | null;
  expiresAt: Date;
  refundRequestedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface PaymentRecord {
  id: string;
  booking_id: string;
  event_id: string;
  user_id: string;
  order_id: string;
  gateway_payment_id: string | null;
  state: PaymentState;
  gateway_status: PaymentStatus | null;
  failure_reason: string | null;
  amount: string;
  amount_minor: string;
  currency: string;
  seat_count: number;
  payment_url: string | null;
  expires_at: Date;
  refund_requested_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const toPayment = (r: PaymentRecord): PaymentRow => ({
  id: Number(r.id),
  bookingId: Number(r.booking_id),
  eventId: Number(r.event_id),
  userId: Number(r.user_id),
  orderId: r.order_id,
  gatewayPaymentId: r.gateway_payment_id,
  state: r.state,
  gatewayStatus: r.gateway_status,
  failureReason: r.failure_reason,
  amount: r.amount,
  amountMinor: Number(r.amount_minor),
  currency: r.currency,
  seatCount: r.seat_count,
  paymentUrl: r.payment_url,
  expiresAt: r.expires_at,
  refundRequestedAt: r.refund_requested_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const COLUMNS = `id, booking_id, event_id, user_id, order_id, gateway_payment_id, state, gateway_status, failure_reason,
  amount::text as amount, amount_minor, currency, seat_count, payment_url, expires_at, refund_requested_at,
  created_at, updated_at`;

export interface NewPayment {
  bookingId: number;
  eventId: number;
  userId: number;
  orderId: string;
  amount: string;
  amountMinor: number;
  currency: string;
  seatCount: number;
  expiresAt: Date;
}

/** Inserts an `initiating` payment; undefined when the booking already has a live one (the unique index). */
export async function insertPayment(tx: Tx, p: NewPayment): Promise<PaymentRow | undefined> {
  const rows = await tx.unsafe<PaymentRecord[]>(
    `insert into payments (booking_id, event_id, user_id, order_id, amount, amount_minor, currency, seat_count, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict (booking_id) where state not in ('failed', 'expired', 'cancelled', 'reversing', 'refunded') do nothing
     returning ${COLUMNS}`,
    [
      p.bookingId,
      p.eventId,
      p.userId,
      p.orderId,
      p.amount,
      p.amountMinor,
      p.currency,
      p.seatCount,
      p.expiresAt,
    ] as never[],
  );
  return rows[0] && toPayment(rows[0]);
}

export async function findPayment(db: Queryable, id: number): Promise<PaymentRow | undefined> {
  const rows = await db.unsafe<PaymentRecord[]>(`select ${COLUMNS} from payments where id = $1`, [id]);
  return rows[0] && toPayment(rows[0]);
}

export async function lockPayment(tx: Tx, id: number): Promise<PaymentRow | undefined> {
  const rows = await tx.unsafe<PaymentRecord[]>(`select ${COLUMNS} from payments where id = $1 for update`, [
    id,
  ]);
  return rows[0] && toPayment(rows[0]);
}

export async function findByGatewayId(
  db: Queryable,
  gatewayPaymentId: string,
): Promise<PaymentRow | undefined> {
  const rows = await db.unsafe<PaymentRecord[]>(
    `select ${COLUMNS} from payments where gateway_payment_id = $1`,
    [gatewayPaymentId],
  );
  return rows[0] && toPayment(rows[0]);
}

/** The payment the order was made for (its first row; later rows of the order are strays). */
export async function findByOrderId(db: Queryable, orderId: string): Promise<PaymentRow | undefined> {
  const rows = await db.unsafe<PaymentRecord[]>(
    `select ${COLUMNS} from payments where order_id = $1 order by id limit 1`,
    [orderId],
  );
  return rows[0] && toPayment(rows[0]);
}

/**
 * Records a second gateway payment of `original`'s order (the gateway made it for a repeated init after the
 * first ended): `reversing`, so its money, if any, is given back. Returns the stray's row (also when it was
 * recorded before).
 */
export async function insertStray(
  tx: Tx,
  original: PaymentRow,
  gatewayPaymentId: string,
  gatewayStatus: PaymentStatus | null,
): Promise<{ row: PaymentRow; created: boolean }> {
  const inserted = await tx.unsafe<PaymentRecord[]>(
    `insert into payments (booking_id, event_id, user_id, order_id, gateway_payment_id, state, gateway_status,
       amount, amount_minor, currency, seat_count, expires_at)
     values ($1, $2, $3, $4, $5, 'reversing', $6, $7, $8, $9, $10, $11)
     on conflict (gateway_payment_id) do nothing
     returning ${COLUMNS}`,
    [
      original.bookingId,
      original.eventId,
      original.userId,
      original.orderId,
      gatewayPaymentId,
      gatewayStatus,
      original.amount,
      original.amountMinor,
      original.currency,
      original.seatCount,
      original.expiresAt,
    ] as never[],
  );
  if (inserted[0]) return { row: toPayment(inserted[0]), created: true };
  const existing = await findByGatewayId(tx, gatewayPaymentId);
  if (!existing) throw new Error(`payments: stray ${gatewayPaymentId} neither inserted nor found`);
  return { row: existing, created: false };
}

/** The booking's latest payment (the live one if there is one). */
export async function latestOfBooking(db: Queryable, bookingId: number): Promise<PaymentRow | undefined> {
  const rows = await db.unsafe<PaymentRecord[]>(
    `select ${COLUMNS} from payments where booking_id = $1 order by id desc limit 1`,
    [bookingId],
  );
  return rows[0] && toPayment(rows[0]);
}

/** The booking's live payment, locked (open, confirmed or refunding). */
export async function lockLiveOfBooking(tx: Tx, bookingId: number): Promise<PaymentRow | undefined> {
  const rows = await tx.unsafe<PaymentRecord[]>(
    `select ${COLUMNS} from payments
     where booking_id = $1 and state not in ('failed', 'expired', 'cancelled', 'reversing', 'refunded')
     for update`,
    [bookingId],
  );
  return rows[0] && toPayment(rows[0]);
}

/** Open payments unchanged for `olderThanMs`, oldest first: what reconciliation checks. */
export async function staleOpenPayments(
  db: Queryable,
  olderThanMs: number,
  limit: number,
): Promise<number[]> {
  const rows = await db<{ id: string }[]>`
    select id from payments
    where state in ('initiating', 'pending', 'capturing', 'reversing', 'refunding')
      and updated_at < now() - make_interval(secs => ${olderThanMs / 1000})
    order by updated_at
    limit ${limit}`;
  return rows.map((r) => Number(r.id));
}

export interface PaymentChange {
  state?: PaymentState;
  gatewayStatus?: PaymentStatus;
  gatewayPaymentId?: string;
  paymentUrl?: string;
  failureReason?: string;
  refundRequestedAt?: Date;
}

/** Applies `change` (unset fields keep their value) and touches `updated_at`. */
export async function updatePayment(tx: Tx, id: number, change: PaymentChange): Promise<void> {
  await tx`
    update payments set
      state = coalesce(${change.state ?? null}::payment_state, state),
      gateway_status = coalesce(${change.gatewayStatus ?? null}, gateway_status),
      gateway_payment_id = coalesce(gateway_payment_id, ${change.gatewayPaymentId ?? null}),
      payment_url = coalesce(payment_url, ${change.paymentUrl ?? null}),
      failure_reason = coalesce(${change.failureReason ?? null}, failure_reason),
      refund_requested_at = coalesce(refund_requested_at, ${change.refundRequestedAt ?? null}),
      updated_at = now()
    where id = ${id}`;
}

export type TransitionSource = 'api' | 'webhook' | 'callback' | 'reconciliation' | 'buyer';

export interface Transition {
  from: PaymentState | null;
  to: PaymentState;
  gatewayStatus?: PaymentStatus | null | undefined;
  source: TransitionSource;
  reference?: string | null | undefined;
  detail?: Record<string, unknown> | undefined;
}

/** Appends to the ledger. */
export async function recordTransition(tx: Tx, payment: PaymentRow, t: Transition): Promise<void> {
  await tx`
    insert into payment_transitions (payment_id, booking_id, from_state, to_state, gateway_status, source, reference, detail)
    values (${payment.id}, ${payment.bookingId}, ${t.from}, ${t.to}, ${t.gatewayStatus ?? null}, ${t.source},
            ${t.reference ?? null}, ${t.detail ? JSON.stringify(t.detail) : null}::text::jsonb)`;
}

export interface LedgerEntry {
  payment_id: number;
  from_state: PaymentState | null;
  to_state: PaymentState;
  gateway_status: string | null;
  source: TransitionSource;
  reference: string | null;
  detail: Record<string, unknown> | null;
  at: string;
}

/** A booking's money story: every transition of every payment, in order. */
export async function ledgerOfBooking(db: Queryable, bookingId: number): Promise<LedgerEntry[]> {
  const rows = await db<(Omit<LedgerEntry, 'payment_id' | 'at'> & { payment_id: string; at: Date })[]>`
    select payment_id, from_state, to_state, gateway_status, source, reference, detail, created_at as at
    from payment_transitions where booking_id = ${bookingId} order by id`;
  return rows.map((r) => ({ ...r, payment_id: Number(r.payment_id), at: r.at.toISOString() }));
}

/** Whether this webhook delivery (id and status) was applied already. */
export async function deliverySeen(db: Queryable, deliveryId: string, status: string): Promise<boolean> {
  const [row] = await db`
    select 1 from payment_webhook_deliveries where delivery_id = ${deliveryId} and status = ${status}`;
  return row !== undefined;
}

export async function recordDelivery(
  db: Queryable,
  d: {
    deliveryId: string;
    status: string;
    gatewayPaymentId: string;
    paymentId: number | null;
    outcome: string;
  },
): Promise<void> {
  await db`
    insert into payment_webhook_deliveries (delivery_id, status, gateway_payment_id, payment_id, outcome)
    values (${d.deliveryId}, ${d.status}, ${d.gatewayPaymentId}, ${d.paymentId}, ${d.outcome})
    on conflict do nothing`;
}

/**
 * Deletes webhook deliveries received before `before`, `batch` rows per statement (short locks, bounded WAL
 * per statement), until none is left; returns how many went.
 */
export async function pruneDeliveries(db: Sql, before: Date, batch = 10_000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db`
      delete from payment_webhook_deliveries
      where ctid = any(array(
        select ctid from payment_webhook_deliveries where received_at < ${before} limit ${batch}))`;
    total += deleted.count;
    if (deleted.count < batch) return total;
  }
}

/** `POST /api/reset`: every payment, transition and delivery. */
export async function deleteAllPayments(tx: Tx): Promise<void> {
  await tx`truncate payment_webhook_deliveries, payment_transitions, payments`;
}
