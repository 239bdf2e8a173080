import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  BookingErrors,
  type BookingPaymentsPort,
  type BookingService,
  beginPayment,
  REFUND_CLOSES_HOURS,
  refundOpen,
} from '../booking/index.ts';
import type { AuthenticatedUser } from '../identity/index.ts';
import type { Sql } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import {
  type Breaker,
  CircuitOpenError,
  isCircuitOpenError,
} from '../platform/resilience/circuit-breaker.ts';
import { PaymentErrors } from './errors.ts';
import { PaymentTopics, paymentEvent } from './events.ts';
import { PaymentFlow } from './flow.ts';
import {
  type Currency,
  type GatewayClient,
  GatewayError,
  parseWebhook,
  verifyWebhookSignature,
  WEBHOOK_HEADERS,
} from './gateway/index.ts';
import { LIVE_STATES, OPEN_STATES, publicStatus } from './states.ts';
import * as store from './store.ts';

export interface PaymentSettings {
  currency: Currency;
  expiryMinutes: number;
  /** Seats stay held this long past the payment's expiry. */
  holdGraceMs: number;
  /** A fresh hold when a payment never started. */
  holdMs: number;
  reconcileAfterMs: number;
  /** Empty: webhooks are not verified. */
  webhookSecret: string;
}

export interface PaymentsServiceDeps {
  db: Sql;
  client: GatewayClient;
  breaker: Breaker;
  logger: Logger;
  booking: () => BookingService | undefined;
  settings: PaymentSettings;
  /** Public base URL of this API (webhooks and the buyer's way back), known once it listens. */
  baseUrl: () => string;
}

export interface PaymentView {
  payment_id: string | null;
  order_id: string;
  booking_id: number;
  state: store.PaymentRow['state'];
  status: ReturnType<typeof publicStatus>;
  gateway_status: string | null;
  failure_reason: string | null;
  amount: string;
  currency: string;
  payment_url: string | null;
  expires_at: string;
  created_at: string;
  updated_at: string;
}

export function paymentView(p: store.PaymentRow): PaymentView {
  return {
    payment_id: p.gatewayPaymentId,
    order_id: p.orderId,
    booking_id: p.bookingId,
    state: p.state,
    status: publicStatus(p.state),
    gateway_status: p.gatewayStatus,
    failure_reason: p.failureReason,
    amount: p.amount,
    currency: p.currency,
    payment_url: p.paymentUrl,
    expires_at: p.expiresAt.toISOString(),
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

/**
 * The payments use cases (docs/payments.md): starting a booking's payment at the gateway, webhooks, the
 * buyer's return, refunds, reconciliation; the booking module reaches it through `port`.
 */
export class PaymentsService {
  readonly flow: PaymentFlow;
  readonly settings: PaymentSettings;
  readonly #db: Sql;
  readonly #client: GatewayClient;
  readonly #breaker: Breaker;
  readonly #log: Logger;
  readonly #booking: () => BookingService | undefined;
  readonly #baseUrl: () => string;
  readonly #background = new Set<Promise<unknown>>();

  constructor(deps: PaymentsServiceDeps) {
    this.settings = deps.settings;
    this.#db = deps.db;
    this.#client = deps.client;
    this.#breaker = deps.breaker;
    this.#log = deps.logger;
    this.#booking = deps.booking;
    this.#baseUrl = deps.baseUrl;
    this.flow = new PaymentFlow({
      db: deps.db,
      client: deps.client,
      logger: deps.logger,
      booking: deps.booking,
      holdMs: deps.settings.holdMs,
    });
  }

  // ---- starting a payment ------------------------------------------------------------------------------

  /**
   * `PATCH /api/bookings/initiatePayment`: the booking's payment at the gateway, started now or, on a repeat,
   * the one started before. The payment row (with its order id) is committed before the gateway is asked, so
   * a lost answer is repeated with the same order id and the gateway returns the same payment.
   */
  async initiate(user: AuthenticatedUser, bookingId: number): Promise<store.PaymentRow> {
    const bookings = this.#requireBooking();
    const booking = await bookings.ownedBooking(user, bookingId);
    const live = await this.#live(bookingId);
    if (live) return this.#resume(live);
    if (booking.status === 'paid') throw PaymentErrors.alreadyPaid(bookingId, 'confirmed');
    await this.#failFastWhenOpen();
    const expiresAt = new Date(Date.now() + this.settings.expiryMinutes * 60_000);
    const created = await this.#db.begin(async (tx) => {
      // Holds do not lapse under a buyer who is paying: they last as long as the payment can.
      const subject = await beginPayment(
        tx,
        bookingId,
        new Date(expiresAt.getTime() + this.settings.holdGraceMs),
      );
      const row = await store.insertPayment(tx, {
        bookingId,
        eventId: subject.eventId,
        userId: subject.userId,
        orderId: `bo-${bookingId}-${randomBytes(4).toString('hex')}`,
        amount: subject.amount,
        amountMinor: toMinorUnits(subject.amount),
        currency: this.settings.currency,
        seatCount: subject.seatIds.length,
        expiresAt,
      });
      if (row) await store.recordTransition(tx, row, { from: null, to: 'initiating', source: 'buyer' });
      return row;
    });
    if (created) return this.#register(created);
    // A concurrent request of the same buyer started it first.
    const winner = await this.#live(bookingId);
    if (!winner) throw BookingErrors.busy();
    return this.#resume(winner);
  }

  async #live(bookingId: number): Promise<store.PaymentRow | undefined> {
    const latest = await store.latestOfBooking(this.#db, bookingId);
    return latest && LIVE_STATES.has(latest.state) ? latest : undefined;
  }

  async #resume(row: store.PaymentRow): Promise<store.PaymentRow> {
    if (row.state === 'initiating') return this.#register(row);
    if (row.state === 'pending' && row.paymentUrl) return row;
    if (row.state === 'pending') return this.#register(row); // named by a webhook first: ask for the form's URL
    throw PaymentErrors.alreadyPaid(row.bookingId, row.state);
  }

  /** Asks the gateway to register the payment (again, on a repeat: same order id, same answer). */
  #register(row: store.PaymentRow): Promise<store.PaymentRow> {
    return this.flow.serially(row.id, async () => {
      const base = this.#baseUrl();
      try {
        const answer = await this.#client.init({
          orderId: row.orderId,
          amount: row.amountMinor,
          currency: row.currency as Currency,
          description: `Booking ${row.bookingId}: ${row.seatCount} seat(s), event ${row.eventId}`,
          notificationUrl: `${base}/api/payments/notifications`,
          successUrl: `${base}/api/payments/success`,
          failUrl: `${base}/api/payments/fail`,
          paymentExpiryMinutes: this.settings.expiryMinutes,
        });
        const fate = await this.#db.begin(async (tx) => {
          const p = await store.lockPayment(tx, row.id);
          if (!p) return 'gone' as const;
          const change = { gatewayPaymentId: answer.paymentId, paymentUrl: answer.paymentUrl };
          const ours = p.gatewayPaymentId === null || p.gatewayPaymentId === answer.paymentId;
          if (p.state === 'initiating' && ours) {
            await store.updatePayment(tx, p.id, {
              ...change,
              state: 'pending',
              gatewayStatus: answer.status,
            });
            await store.recordTransition(tx, p, {
              from: 'initiating',
              to: 'pending',
              gatewayStatus: answer.status,
              source: 'api',
              reference: 'init',
            });
            const started = { ...p, state: 'pending' as const, gatewayPaymentId: answer.paymentId };
            await publish(
              tx,
              paymentEvent(PaymentTopics.initiated, started, { paymentUrl: answer.paymentUrl }),
            );
            return 'started' as const;
          }
          // A webhook got here first (same payment), or the buyer cancelled while the answer was on its way.
          if (
            p.gatewayPaymentId === answer.paymentId ||
            (p.state === 'reversing' && p.gatewayPaymentId === null)
          ) {
            await store.updatePayment(tx, p.id, change);
            return p.state === 'reversing' ? ('reverse' as const) : ('known' as const);
          }
          return { stray: p };
        });
        if (fate === 'reverse') await this.flow.driveNow(row.id, { source: 'api' });
        if (typeof fate === 'object') {
          // The order's first payment ended before this answer came: the gateway made a second one.
          await this.flow.stray(fate.stray, {
            status: answer.status,
            gatewayPaymentId: answer.paymentId,
            source: 'api',
            reference: 'init',
          });
        }
      } catch (error) {
        if (!refusedForSure(error)) {
          // Registered or not, we cannot tell: the row stays `initiating`; a repeat or reconciliation settles it.
          this.#log.warn(
            { err: error, paymentId: row.id, orderId: row.orderId },
            'payments: init outcome unknown',
          );
          throw PaymentErrors.initUnknown(row.bookingId, (error as Error).message);
        }
        // Never registered: the payment ends and the booking is open again for another try.
        await this.flow.driveNow(row.id, {
          status: 'ABSENT',
          source: 'api',
          reference: 'init',
          reason: (error as GatewayError | CircuitOpenError).code,
        });
        throw error;
      }
      const now = await store.findPayment(this.#db, row.id);
      if (!now) throw PaymentErrors.notFound(`for booking ${row.bookingId}`);
      if (!LIVE_STATES.has(now.state) || !now.paymentUrl) {
        throw PaymentErrors.ended(now.bookingId, now.state, now.failureReason);
      }
      return now;
    });
  }

  /** While the breaker is open a new payment is refused at once (503), without touching the booking. */
  async #failFastWhenOpen(): Promise<void> {
    const snapshot = await this.#breaker.status();
    if (snapshot.state !== 'Open') return;
    const retryAfterMs = snapshot.nextAttemptAt ? Date.parse(snapshot.nextAttemptAt) - Date.now() : 0;
    throw new CircuitOpenError('payment gateway', 'Open', Math.max(0, retryAfterMs));
  }

  // ---- news from the gateway ---------------------------------------------------------------------------

  /**
   * A webhook (`POST /api/payments/notifications`, `/api/webhook/payment`): verified against the raw body,
   * applied at most once per delivery and status, never moving a payment backwards. Resolves what became of it.
   */
  async webhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<{ outcome: string; payment?: store.PaymentRow }> {
    const secret = this.settings.webhookSecret;
    if (secret && !verifyWebhookSignature(rawBody, headers[WEBHOOK_HEADERS.signature], secret)) {
      this.#log.warn(
        { delivery: headers[WEBHOOK_HEADERS.delivery], bytes: rawBody.length },
        'payments: webhook with a missing or wrong signature refused',
      );
      throw PaymentErrors.badSignature();
    }
    const hook = parseWebhook(rawBody);
    if (!hook.paymentStatus) throw PaymentErrors.unknownStatus(hook.status);
    const header = headers[WEBHOOK_HEADERS.delivery];
    const deliveryId =
      (Array.isArray(header) ? header[0] : header) ??
      `${hook.paymentId}:${hook.status}:${hook.timestamp ?? ''}`;
    if (await store.deliverySeen(this.#db, deliveryId, hook.paymentStatus)) return { outcome: 'duplicate' };

    const delivery = { deliveryId, status: hook.paymentStatus, gatewayPaymentId: hook.paymentId };
    const news = {
      status: hook.paymentStatus,
      gatewayPaymentId: hook.paymentId,
      source: 'webhook' as const,
      reference: deliveryId,
      // The detail (DECLINED, INSUFFICIENT_FUNDS…) says more than the failure's status.
      reason: typeof hook.data.reason === 'string' ? hook.data.reason : hook.failureReason,
      untrusted: true,
    };
    let row = await store.findByGatewayId(this.#db, hook.paymentId);
    if (!row && typeof hook.data.orderId === 'string') {
      const byOrder = await store.findByOrderId(this.#db, hook.data.orderId);
      // Before the init answer was recorded, the order id names the payment; if the answer was recorded
      // between the two reads, it names the same one.
      const adoptable =
        !byOrder?.gatewayPaymentId && (byOrder?.state === 'initiating' || byOrder?.state === 'reversing');
      if (byOrder && (adoptable || byOrder.gatewayPaymentId === hook.paymentId)) {
        row = byOrder;
      } else if (byOrder) {
        const stray = await this.flow.stray(byOrder, news);
        await store.recordDelivery(this.#db, { ...delivery, paymentId: stray?.id ?? null, outcome: 'stray' });
        return { outcome: 'stray' };
      }
    }
    if (!row) {
      this.#log.warn(
        { ...delivery },
        'payments: webhook for a payment we do not know; acknowledged, ignored',
      );
      await store.recordDelivery(this.#db, { ...delivery, paymentId: null, outcome: 'unknown_payment' });
      return { outcome: 'unknown_payment' };
    }
    const after = await this.flow.drive(row.id, news);
    await store.recordDelivery(this.#db, { ...delivery, paymentId: row.id, outcome: after?.state ?? 'gone' });
    return after ? { outcome: after.state, payment: after } : { outcome: 'gone' };
  }

  /**
   * The buyer's browser came back (`GET /api/payments/success|fail`): the query only says which payment; what
   * happened to it is asked of the gateway.
   */
  async callback(query: {
    paymentId?: string | undefined;
    orderId?: string | undefined;
  }): Promise<store.PaymentRow> {
    let row: store.PaymentRow | undefined;
    if (query.paymentId) row = await store.findByGatewayId(this.#db, query.paymentId);
    if (!row && query.orderId) {
      row = await store.findByOrderId(this.#db, query.orderId);
      // The spec's orderId is the booking id (an integer).
      if (!row && /^[1-9][0-9]{0,15}$/.test(query.orderId)) {
        row = await store.latestOfBooking(this.#db, Number(query.orderId));
      }
      if (row && query.paymentId && row.gatewayPaymentId && row.gatewayPaymentId !== query.paymentId)
        row = undefined;
    }
    if (!row) throw PaymentErrors.notFound(describe(query));
    return (await this.flow.drive(row.id, { source: 'callback' })) ?? row;
  }

  // ---- reading -----------------------------------------------------------------------------------------

  /** `GET /api/bookings/{id}/payment-status`: the booking's payment and its whole story, for its owner. */
  async statusOf(user: AuthenticatedUser, bookingId: number) {
    const booking = await this.#requireBooking().ownedBooking(user, bookingId);
    const [latest, history] = await Promise.all([
      store.latestOfBooking(this.#db, bookingId),
      store.ledgerOfBooking(this.#db, bookingId),
    ]);
    return {
      booking_id: bookingId,
      booking_status: booking.status,
      payment_status: latest ? publicStatus(latest.state) : ('none' as const),
      payment: latest ? paymentView(latest) : null,
      history,
    };
  }

  // ---- the booking module's port -----------------------------------------------------------------------

  readonly port: BookingPaymentsPort = {
    cancelling: async (tx, bookingId) => {
      const p = await store.lockLiveOfBooking(tx, bookingId);
      if (!p || !(OPEN_STATES as readonly string[]).includes(p.state)) return;
      await store.updatePayment(tx, p.id, { state: 'reversing' });
      await store.recordTransition(tx, p, {
        from: p.state,
        to: 'reversing',
        gatewayStatus: p.gatewayStatus,
        source: 'buyer',
        detail: { why: 'booking cancelled' },
      });
    },
    cancelled: (bookingId) => {
      this.#inBackground(async () => {
        const p = await store.latestOfBooking(this.#db, bookingId);
        if (p?.state === 'reversing') await this.flow.drive(p.id, { source: 'buyer' });
      });
    },
    refund: async (booking) => {
      const event = await this.#requireBooking().seatMaps.event(booking.eventId);
      const now = new Date();
      const row = await this.#db.begin(async (tx) => {
        const p = await store.lockLiveOfBooking(tx, booking.id);
        if (!p) throw PaymentErrors.notFound(`that paid for booking ${booking.id}`);
        if (p.state === 'refunding') return p;
        if (p.state !== 'confirmed') throw PaymentErrors.alreadyPaid(booking.id, p.state);
        if (event && !refundOpen(event.datetimeStart, now))
          throw BookingErrors.refundClosed(booking.id, REFUND_CLOSES_HOURS);
        await store.updatePayment(tx, p.id, { state: 'refunding', refundRequestedAt: now });
        await store.recordTransition(tx, p, {
          from: 'confirmed',
          to: 'refunding',
          gatewayStatus: p.gatewayStatus,
          source: 'buyer',
        });
        return p;
      });
      const after = await this.flow.drive(row.id, { status: 'CONFIRMED', source: 'buyer' });
      return after?.state === 'refunded' ? 'refunded' : 'pending';
    },
    reset: (tx) => store.deleteAllPayments(tx),
  };

  // ---- reconciliation ----------------------------------------------------------------------------------

  /**
   * Checks open payments unchanged for `reconcileAfterMs` with the gateway and settles them (lost webhooks,
   * lost answers, crashes between a gateway call and its record). Skipped while the breaker is open.
   */
  async reconcile(limit = 500): Promise<{ checked: number; settled: number }> {
    if ((await this.#breaker.status()).state === 'Open') return { checked: 0, settled: 0 };
    const ids = await store.staleOpenPayments(this.#db, this.settings.reconcileAfterMs, limit);
    let settled = 0;
    for (const id of ids) {
      const before = await store.findPayment(this.#db, id);
      const after = await this.flow.drive(id, { source: 'reconciliation' });
      if (before && after && after.state !== before.state) settled++;
      if ((await this.#breaker.status()).state === 'Open') break;
    }
    if (ids.length > 0) this.#log.info({ checked: ids.length, settled }, 'payments: reconciliation pass');
    return { checked: ids.length, settled };
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------

  #inBackground(work: () => Promise<void>): void {
    const task = work().catch((error: unknown) =>
      this.#log.warn({ err: error }, 'payments: background work failed; reconciliation will retry'),
    );
    this.#background.add(task);
    void task.finally(() => this.#background.delete(task));
  }

  /** Waits for background work (reversals after cancellations) to finish. */
  async stop(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  #requireBooking(): BookingService {
    const booking = this.#booking();
    if (!booking) throw new Error('payments: the booking module is not running in this process');
    return booking;
  }
}

/**
 * The gateway certainly did not register the payment: the breaker refused the call, or the gateway answered
 * with a refusal (not a failure of its own, whose outcome is unknown).
 */
function refusedForSure(error: unknown): boolean {
  if (isCircuitOpenError(error)) return true;
  return error instanceof GatewayError && !error.peerFailure && error.code !== 'GATEWAY_CANCELLED';
}

/** `"1500.50"` → 150050 (minor units, exact). */
export function toMinorUnits(decimal: string): number {
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(decimal);
  if (!match) throw new Error(`not a non-negative decimal amount: ${decimal}`);
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
}

function describe(query: { paymentId?: string | undefined; orderId?: string | undefined }): string {
  return [
    query.paymentId && `with paymentId ${query.paymentId}`,
    query.orderId && `for orderId ${query.orderId}`,
  ]
    .filter(Boolean)
    .join(' ');
}
