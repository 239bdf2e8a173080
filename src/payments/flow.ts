import type { Logger } from 'pino';
import {
  type BookingService,
  confirmPayment,
  failPayment,
  refundBooking,
  reopenBooking,
  securePayment,
} from '../booking/index.ts';
import type { Sql, Tx } from '../platform/db/client.ts';
import { AppError } from '../platform/http/errors.ts';
import { publish } from '../platform/outbox/index.ts';
import { isCircuitOpenError } from '../platform/resilience/circuit-breaker.ts';
import { PaymentTopics, paymentEvent } from './events.ts';
import {
  GatewayApiError,
  type GatewayClient,
  GatewayError,
  GatewayStateError,
  type PaymentInfo,
  type PaymentStatus,
} from './gateway/index.ts';
import { decide, type EndState, type GatewayView, isStale, type PaymentState, type Step } from './states.ts';
import * as store from './store.ts';

/** What we have just learnt about a payment, and from where. */
export interface News {
  /** The gateway's status; absent: ask the gateway (a status check) first. */
  status?: GatewayView | undefined;
  /** The gateway's id for the payment, when the news names it (a webhook before the init answer). */
  gatewayPaymentId?: string | undefined;
  source: store.TransitionSource;
  /** Webhook delivery id, gateway call… */
  reference?: string | undefined;
  /** Why the gateway failed it (DECLINED, INSUFFICIENT_FUNDS…). */
  reason?: string | null | undefined;
  /** From a webhook: ignored when older than what we know (webhooks arrive out of order). */
  untrusted?: boolean;
}

export interface PaymentFlowDeps {
  db: Sql;
  client: GatewayClient;
  logger: Logger;
  /** The booking service of this process, when it runs one: told about seats freed here. */
  booking: () => BookingService | undefined;
  /** A fresh hold for the seats of a booking whose payment never started. */
  holdMs: number;
}

/** A step may lead to another (confirm answered → settle); a few rounds end any real sequence. */
const MAX_ROUNDS = 6;

/**
 * Carries out the steps `decide` picks (src/payments/states.ts): each step's database part in one transaction
 * (payment row locked, booking transition, ledger row, outbox event together), gateway calls outside any
 * transaction. A gateway call whose outcome is unknown leaves the payment in its open state, for the next
 * webhook, callback or the reconciliation job to pick up: every step is safe to repeat.
 *
 * Within a process the steps of one payment run one at a time; across processes the row lock and the
 * gateway's own idempotency (confirm of a confirmed payment, cancel of a cancelled one) keep it consistent.
 */
export class PaymentFlow {
  readonly #db: Sql;
  readonly #client: GatewayClient;
  readonly #log: Logger;
  readonly #booking: () => BookingService | undefined;
  readonly #holdMs: number;
  readonly #queues = new Map<number, Promise<unknown>>();

  constructor(deps: PaymentFlowDeps) {
    this.#db = deps.db;
    this.#client = deps.client;
    this.#log = deps.logger;
    this.#booking = deps.booking;
    this.#holdMs = deps.holdMs;
  }

  /** Runs `work` after every earlier piece of work on the same payment in this process. */
  serially<T>(paymentId: number, work: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(paymentId) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => undefined);
    this.#queues.set(paymentId, tail);
    void tail.then(() => {
      if (this.#queues.get(paymentId) === tail) this.#queues.delete(paymentId);
    });
    return run;
  }

  /** Brings the payment as far as `news` (or a status check) allows. Returns the payment as it ends up. */
  drive(paymentId: number, news: News): Promise<store.PaymentRow | undefined> {
    return this.serially(paymentId, () => this.#drive(paymentId, news));
  }

  /** `drive` for a caller already running in the payment's turn (`serially`). */
  driveNow(paymentId: number, news: News): Promise<store.PaymentRow | undefined> {
    return this.#drive(paymentId, news);
  }

  async #drive(paymentId: number, first: News): Promise<store.PaymentRow | undefined> {
    let news: News | undefined = first;
    let row = await store.findPayment(this.#db, paymentId);
    for (let round = 0; row && news && round < MAX_ROUNDS; round++) {
      let status = news.status;
      if (status === undefined) {
        const seen = await this.look(row);
        if (!seen) return row;
        status = seen.status;
        news = { ...news, status, gatewayPaymentId: seen.paymentId };
      }
      if (news.untrusted && status !== 'ABSENT' && isStale(status, row.gatewayStatus)) {
        this.#log.info(
          { paymentId, news: status, known: row.gatewayStatus, source: news.source },
          'payments: stale news ignored (older than what we know)',
        );
        return row;
      }
      if (news.gatewayPaymentId && row.gatewayPaymentId && news.gatewayPaymentId !== row.gatewayPaymentId) {
        // News of another gateway payment of the same order (queued while the init answer named ours).
        await this.stray(row, { ...news, gatewayPaymentId: news.gatewayPaymentId });
        return store.findPayment(this.#db, paymentId);
      }
      const step = decide(row.state, status);
      if (step.kind === 'none') return row;
      news = await this.#perform(step, row, { ...news, status });
      row = await store.findPayment(this.#db, paymentId);
    }
    return row;
  }

  /**
   * A second gateway payment of `original`'s order (the gateway made it for a repeat of an init whose first
   * payment had ended): recorded as a payment of its own, `reversing`, and its money given back.
   */
  async stray(
    original: store.PaymentRow,
    news: News & { gatewayPaymentId: string },
  ): Promise<store.PaymentRow | undefined> {
    const stray = await this.#db.begin(async (tx) => {
      const { row, created } = await store.insertStray(
        tx,
        original,
        news.gatewayPaymentId,
        gatewayStatusOf(news) ?? null,
      );
      if (created) {
        await store.recordTransition(tx, row, {
          from: null,
          to: 'reversing',
          gatewayStatus: gatewayStatusOf(news),
          source: news.source,
          reference: news.reference,
          detail: { why: 'a second gateway payment of the order', original: original.id },
        });
      }
      return row;
    });
    this.#log.warn(
      { paymentId: original.id, orderId: original.orderId, stray: news.gatewayPaymentId },
      'payments: the gateway made a second payment for an order; giving it back',
    );
    return this.drive(stray.id, news);
  }

  /**
   * The gateway's view of the payment: by its id, or (init answer never recorded) by our order id, where
   * ABSENT means the order never reached it. Undefined when the gateway cannot tell now (breaker open, down).
   */
  async look(row: store.PaymentRow): Promise<{ status: GatewayView; paymentId?: string } | undefined> {
    try {
      if (row.gatewayPaymentId) {
        const info = await this.#client.getPayment(row.gatewayPaymentId);
        return { status: info.status, paymentId: info.paymentId };
      }
      const found = await this.#client.check({ orderId: row.orderId });
      const latest = newest(found.payments);
      return latest ? { status: latest.status, paymentId: latest.paymentId } : { status: 'ABSENT' };
    } catch (error) {
      if (!row.gatewayPaymentId && error instanceof GatewayError && error.code === 'GATEWAY_NOT_FOUND') {
        return { status: 'ABSENT' };
      }
      this.#log.warn(
        { err: error, paymentId: row.id, orderId: row.orderId },
        'payments: could not check the payment with the gateway; it stays as it is for now',
      );
      return undefined;
    }
  }

  async #perform(
    step: Step,
    row: store.PaymentRow,
    news: News & { status: GatewayView },
  ): Promise<News | undefined> {
    switch (step.kind) {
      case 'record':
        await this.#record(row.id, news);
        return undefined;
      case 'capture':
        return this.#capture(row.id, news);
      case 'settle':
        return this.#settle(row.id, news);
      case 'end':
        await this.#end(row.id, news, step.state, step.reopen);
        return undefined;
      case 'reverse':
        return this.#reverse(row.id, news);
      case 'finish-reversal':
        await this.#finishReversal(row.id, news, step.state);
        return undefined;
      case 'finish-refund':
      case 'external-refund':
        await this.#finishRefund(row.id, news);
        return undefined;
      case 'none':
        return undefined;
    }
  }

  /**
   * One transaction on the locked payment, if the step still applies to it (another process may have moved
   * it since it was read): `work` returns what to announce and which seats it freed.
   */
  async #step(
    paymentId: number,
    news: News & { status: GatewayView },
    kinds: Step['kind'][],
    work: (tx: Tx, p: store.PaymentRow) => Promise<number[] | undefined>,
  ): Promise<boolean> {
    const freed = await this.#db.begin(async (tx) => {
      const p = await store.lockPayment(tx, paymentId);
      if (!p || !kinds.includes(decide(p.state, news.status).kind)) return undefined;
      return (await work(tx, p)) ?? [];
    });
    if (freed && freed.length > 0) await this.#booking()?.seatsFreed(freed);
    return freed !== undefined;
  }

  async #transition(
    tx: Tx,
    p: store.PaymentRow,
    to: PaymentState,
    news: News,
    change: Omit<store.PaymentChange, 'state'> = {},
    detail?: Record<string, unknown>,
  ): Promise<store.PaymentRow> {
    const gatewayStatus = gatewayStatusOf(news);
    await store.updatePayment(tx, p.id, {
      ...change,
      state: to,
      ...(gatewayStatus ? { gatewayStatus } : {}),
      ...(news.gatewayPaymentId ? { gatewayPaymentId: news.gatewayPaymentId } : {}),
    });
    await store.recordTransition(tx, p, {
      from: p.state,
      to,
      gatewayStatus,
      source: news.source,
      reference: news.reference,
      detail: news.reason ? { reason: news.reason, ...detail } : detail,
    });
    return {
      ...p,
      state: to,
      gatewayStatus: gatewayStatus ?? p.gatewayStatus,
      gatewayPaymentId: p.gatewayPaymentId ?? news.gatewayPaymentId ?? null,
    };
  }

  /** The gateway has the payment and the buyer is paying: note its status. */
  async #record(paymentId: number, news: News & { status: GatewayView }): Promise<void> {
    await this.#step(paymentId, news, ['record'], async (tx, p) => {
      const status = gatewayStatusOf(news);
      if (p.state === 'initiating' || (status && status !== p.gatewayStatus)) {
        await this.#transition(tx, p, 'pending', news);
      } else {
        // Unchanged: only `updated_at` moves, so reconciliation does not ask again at once.
        await store.updatePayment(tx, p.id, {});
      }
      return undefined;
    });
  }

  /** Authorized: secure the seats and confirm at the gateway; if the seats are gone, give the money back. */
  async #capture(paymentId: number, news: News & { status: GatewayView }): Promise<News | undefined> {
    let outcome: 'capture' | 'reverse' | undefined;
    await this.#step(paymentId, news, ['capture'], async (tx, p) => {
      const secured = await securePayment(tx, p.bookingId, { seatCount: p.seatCount, amount: p.amount });
      if (secured.ok) {
        outcome = 'capture';
        if (p.state !== 'capturing') await this.#transition(tx, p, 'capturing', news);
        return undefined;
      }
      outcome = 'reverse';
      await this.#transition(tx, p, 'reversing', news, {}, { why: secured.reason, booking: secured.status });
      return this.#cancelBooking(tx, p.bookingId);
    });
    if (outcome === 'reverse') return news;
    if (outcome !== 'capture') return undefined;
    const row = await store.findPayment(this.#db, paymentId);
    if (!row?.gatewayPaymentId) return { source: news.source };
    try {
      const confirmed = await this.#client.confirm({
        paymentId: row.gatewayPaymentId,
        amount: row.amountMinor,
      });
      return {
        status: 'CONFIRMED',
        source: 'api',
        reference: confirmed.recovered ? 'confirm (recovered)' : 'confirm',
      };
    } catch (error) {
      return this.#afterCallError(error, 'confirm', row, news);
    }
  }

  /** Confirmed at the gateway: the booking is paid, unless it can no longer be (then the money goes back). */
  async #settle(paymentId: number, news: News & { status: GatewayView }): Promise<News | undefined> {
    let reverse = false;
    await this.#step(paymentId, news, ['settle'], async (tx, p) => {
      const secured = await securePayment(tx, p.bookingId, { seatCount: p.seatCount, amount: p.amount });
      if (!secured.ok) {
        reverse = true;
        await this.#transition(
          tx,
          p,
          'reversing',
          news,
          {},
          { why: secured.reason, booking: secured.status },
        );
        return this.#cancelBooking(tx, p.bookingId);
      }
      await confirmPayment(tx, p.bookingId);
      const confirmed = await this.#transition(tx, p, 'confirmed', news);
      await publish(tx, paymentEvent(PaymentTopics.confirmed, confirmed));
      return undefined;
    });
    return reverse ? { ...news } : undefined;
  }

  /** Over without money: the payment ends; its booking is cancelled, or reopened if init never registered. */
  async #end(paymentId: number, news: News & { status: GatewayView }, state: EndState, reopen: boolean) {
    await this.#step(paymentId, news, ['end'], async (tx, p) => {
      const reason = news.reason ?? (news.status === 'ABSENT' ? 'NOT_REGISTERED' : news.status);
      const ended = await this.#transition(tx, p, state, news, { failureReason: reason });
      await publish(tx, paymentEvent(PaymentTopics.failed, ended, { reason }));
      if (reopen) {
        await reopenBooking(tx, p.bookingId, new Date(Date.now() + this.#holdMs));
        return undefined;
      }
      return this.#cancelBooking(tx, p.bookingId);
    });
  }

  /** The money must go back: cancel at the gateway (a reversal before capture, a refund after). */
  async #reverse(paymentId: number, news: News & { status: GatewayView }): Promise<News | undefined> {
    await this.#step(paymentId, news, ['reverse'], async (tx, p) => {
      if (p.state !== 'reversing' && p.state !== 'refunding') {
        await this.#transition(tx, p, 'reversing', news, {}, { why: 'paid after the payment was given up' });
      }
      return undefined;
    });
    const row = await store.findPayment(this.#db, paymentId);
    if (!row || (row.state !== 'reversing' && row.state !== 'refunding')) return undefined;
    const gatewayId = row.gatewayPaymentId ?? news.gatewayPaymentId;
    if (!gatewayId) return { source: news.source };
    try {
      const cancelled = await this.#client.cancel({
        paymentId: gatewayId,
        force: true,
        reason: row.state === 'refunding' ? 'booking refunded' : 'booking cancelled',
      });
      return { status: cancelled.status, source: 'api', reference: 'cancel' };
    } catch (error) {
      return this.#afterCallError(error, 'cancel', row, news);
    }
  }

  async #finishReversal(
    paymentId: number,
    news: News & { status: GatewayView },
    state: EndState | 'refunded',
  ) {
    await this.#step(paymentId, news, ['finish-reversal'], async (tx, p) => {
      const ended = await this.#transition(tx, p, state, news);
      await publish(
        tx,
        state === 'refunded'
          ? paymentEvent(PaymentTopics.refunded, ended)
          : paymentEvent(PaymentTopics.failed, ended, { reason: ended.failureReason ?? 'reversed' }),
      );
      // A payment given up long ago may be reversed while its booking, reopened, is paid with another one.
      const live = await store.lockLiveOfBooking(tx, p.bookingId);
      return live ? undefined : this.#cancelBooking(tx, p.bookingId);
    });
  }

  /** The refund went through: the booking is refunded, its seats back on sale. */
  async #finishRefund(paymentId: number, news: News & { status: GatewayView }) {
    await this.#step(paymentId, news, ['finish-refund', 'external-refund'], async (tx, p) => {
      // The 12-hour rule was applied when the buyer asked (refund_requested_at); a refund the gateway made on
      // its own is a fact to record, not a request to judge.
      const refunded = await refundBooking(tx, p.bookingId, null);
      const ended = await this.#transition(tx, p, 'refunded', news);
      await publish(tx, paymentEvent(PaymentTopics.refunded, ended));
      return refunded.seatIds;
    });
  }

  /** Cancels the booking if it still waits for this payment (it may be cancelled or reopened already). */
  async #cancelBooking(tx: Tx, bookingId: number): Promise<number[]> {
    try {
      return await failPayment(tx, bookingId);
    } catch (error) {
      if (error instanceof AppError && error.code === 'BOOKING_NOT_PAYABLE') return [];
      throw error;
    }
  }

  /**
   * After a confirm or cancel failed: if the gateway said where the payment is, go on from there; if it
   * refused for a business reason, check and decide again; if it could not be reached (or the breaker is
   * open), stop: the payment stays open for the next news or reconciliation.
   */
  #afterCallError(error: unknown, call: string, row: store.PaymentRow, news: News): News | undefined {
    if (error instanceof GatewayStateError) return { status: error.status, source: 'api', reference: call };
    if (error instanceof GatewayApiError && !error.peerFailure) {
      this.#log.info(
        { err: error, paymentId: row.id, call },
        'payments: gateway refused; checking the payment',
      );
      return { source: news.source };
    }
    const level = isCircuitOpenError(error) ? 'info' : 'warn';
    this.#log[level](
      { err: error, paymentId: row.id, state: row.state, call },
      'payments: gateway call failed; the payment stays open and is retried by reconciliation',
    );
    return undefined;
  }
}

function gatewayStatusOf(news: News): PaymentStatus | undefined {
  return news.status && news.status !== 'ABSENT' ? news.status : undefined;
}

/** The order's latest payment (an order may have several: a new one after an expired one). */
function newest(payments: PaymentInfo[]): PaymentInfo | undefined {
  return payments.reduce<PaymentInfo | undefined>(
    (latest, p) => (!latest || (p.createdAt ?? '') >= (latest.createdAt ?? '') ? p : latest),
    undefined,
  );
}
