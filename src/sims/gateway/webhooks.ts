import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { PaymentStatus } from '../../payments/gateway/types.ts';
import type { Fault, SimulatorBehaviour } from './behaviour.ts';
import type { SimPayment } from './payments.ts';

/**
 * Status webhooks, sent as the gateway sends them: `POST notificationURL`, JSON body
 * `{paymentId, status, teamSlug, timestamp, data}`, signed with the merchant's webhook secret
 * (`X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body>`), named (`X-Webhook-Event: payment.<status>`)
 * and identified (`X-Webhook-Delivery`: one id per notification, kept by its retries and duplicates, with
 * `X-Webhook-Attempt` counting). An answer other than 2xx, a connection error or no answer within
 * `webhookTimeoutMs` is retried `webhookRetries` times after `webhookRetryBaseMs × 2^(n-1)`.
 * Failure mode 4 delays, drops or duplicates notifications.
 */

/** Failed payments are announced as `failed` with the lifecycle status in `data.failure_reason`. */
const FAILURES: ReadonlySet<PaymentStatus> = new Set(['REJECTED', 'FAILED', 'EXPIRED']);

export type DeliveryState = 'scheduled' | 'sending' | 'delivered' | 'failed' | 'dropped' | 'cancelled';

export interface DeliveryAttempt {
  at: string;
  /** The receiver's HTTP status, or what went wrong (`timeout`, `error: …`). */
  outcome: number | string;
}

export interface WebhookDelivery {
  deliveryId: string;
  paymentId: string;
  createdAt: string;
  event: string;
  url: string;
  body: string;
  /** A second copy of the same delivery (failure mode 4's duplicate). */
  duplicate: boolean;
  state: DeliveryState;
  attempts: DeliveryAttempt[];
}

export interface WebhookDispatcherOptions {
  behaviour: () => SimulatorBehaviour;
  /** The next injected webhook fault, if any (taken: it applies once). */
  takeFault: () => Fault | undefined;
  secretOf: (teamSlug: string) => string | undefined;
  random: () => number;
  logger: Logger | undefined;
}

export class WebhookDispatcher {
  private readonly log: WebhookDelivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private pending = 0;
  /** Bumped by clear/stop: sends started before it no longer count. */
  private epoch = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: WebhookDispatcherOptions) {}

  /** Announces a status change to the payment's notificationURL (if it has one). */
  notify(payment: SimPayment, from: PaymentStatus): void {
    if (!payment.notificationUrl || this.stopped) return;
    const secret = this.options.secretOf(payment.teamSlug);
    if (secret === undefined) return;
    const to = payment.status;
    const failed = FAILURES.has(to);
    const body = JSON.stringify({
      paymentId: payment.paymentId,
      status: failed ? 'failed' : to,
      teamSlug: payment.teamSlug,
      timestamp: new Date(payment.updatedAt).toISOString(),
      data: {
        orderId: payment.orderId,
        amount: payment.amount,
        currency: payment.currency,
        paymentStatus: to,
        previousStatus: from,
        ...(failed ? { failure_reason: to } : {}),
        ...(payment.reason ? { reason: payment.reason } : {}),
        statusDescription: payment.statusDescription,
      },
    });
    const delivery: WebhookDelivery = {
      deliveryId: randomUUID(),
      paymentId: payment.paymentId,
      createdAt: new Date().toISOString(),
      event: `payment.${to.toLowerCase()}`,
      url: payment.notificationUrl,
      body,
      duplicate: false,
      state: 'scheduled',
      attempts: [],
    };
    this.log.push(delivery);

    const behaviour = this.options.behaviour();
    const fault = this.options.takeFault();
    const random = this.options.random;
    if (fault?.fault === 'drop' || (!fault && random() < behaviour.webhookLossProbability)) {
      delivery.state = 'dropped';
      return;
    }
    const delay =
      fault?.fault === 'delay'
        ? fault.delayMs
        : behaviour.webhookDelayMinMs +
          Math.round(random() * (behaviour.webhookDelayMaxMs - behaviour.webhookDelayMinMs));
    this.schedule(delivery, 1, delay, secret);
    if (fault?.fault === 'duplicate' || (!fault && random() < behaviour.webhookDuplicateProbability)) {
      const copy: WebhookDelivery = { ...delivery, duplicate: true, attempts: [] };
      this.log.push(copy);
      this.schedule(copy, 1, delay, secret);
    }
  }

  deliveries(): WebhookDelivery[] {
    return this.log.map((delivery) => ({ ...delivery, attempts: [...delivery.attempts] }));
  }

  /** Resolves when no delivery is scheduled or being sent. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets settled deliveries (delivered, failed, dropped, cancelled) created before `cutoff`. */
  purgeSettled(cutoff: number): void {
    const iso = new Date(cutoff).toISOString();
    let kept = 0;
    for (const delivery of this.log) {
      const settled = delivery.state !== 'scheduled' && delivery.state !== 'sending';
      if (!settled || delivery.createdAt >= iso) this.log[kept++] = delivery;
    }
    this.log.length = kept;
  }

  /** Forgets the delivery log and cancels what is pending. */
  clear(): void {
    this.cancelAll();
    this.log.length = 0;
  }

  stop(): void {
    this.stopped = true;
    this.cancelAll();
  }

  private cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.inFlight) controller.abort();
    for (const delivery of this.log)
      if (delivery.state === 'scheduled' || delivery.state === 'sending') delivery.state = 'cancelled';
    this.epoch++;
    this.pending = 0;
    this.settle();
  }

  private schedule(delivery: WebhookDelivery, attempt: number, delayMs: number, secret: string): void {
    this.pending++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.send(delivery, attempt, secret);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async send(delivery: WebhookDelivery, attempt: number, secret: string): Promise<void> {
    if (this.stopped) return;
    const epoch = this.epoch;
    delivery.state = 'sending';
    const behaviour = this.options.behaviour();
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timeout = setTimeout(() => controller.abort(), behaviour.webhookTimeoutMs);
    let outcome: number | string;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-webhook-signature': `sha256=${createHmac('sha256', secret).update(delivery.body).digest('hex')}`,
          'x-webhook-event': delivery.event,
          'x-webhook-delivery': delivery.deliveryId,
          'x-webhook-attempt': String(attempt),
          'user-agent': 'boxoffice-gateway-simulator',
        },
        body: delivery.body,
        signal: controller.signal,
      });
      await response.arrayBuffer().catch(() => undefined);
      outcome = response.status;
    } catch (error) {
      outcome = controller.signal.aborted ? 'timeout' : `error: ${describe(error)}`;
    } finally {
      clearTimeout(timeout);
      this.inFlight.delete(controller);
    }
    if (this.stopped || epoch !== this.epoch) return;
    delivery.attempts.push({ at: new Date().toISOString(), outcome });
    const delivered = typeof outcome === 'number' && outcome >= 200 && outcome < 300;
    if (delivered) delivery.state = 'delivered';
    else if (attempt <= behaviour.webhookRetries) {
      delivery.state = 'scheduled';
      this.schedule(delivery, attempt + 1, behaviour.webhookRetryBaseMs * 2 ** (attempt - 1), secret);
    } else {
      delivery.state = 'failed';
      this.options.logger?.warn(
        { deliveryId: delivery.deliveryId, paymentId: delivery.paymentId, url: delivery.url, outcome },
        'gateway simulator: webhook not delivered after every retry',
      );
    }
    this.pending--;
    this.settle();
  }

  private settle(): void {
    if (this.pending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
