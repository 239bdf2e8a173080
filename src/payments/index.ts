import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { preValidationAsyncHookHandler } from 'fastify';
import { bookingServiceOf } from '../booking/index.ts';
import { basicAuth } from '../identity/index.ts';
import type { BoxofficeModule, Platform } from '../platform/context.ts';
import {
  type CircuitBreakerStatus,
  circuitBreakerStatusBody,
  openPaymentGateway,
  type PaymentGateway,
} from './gateway/index.ts';
import { paymentRoutes } from './routes.ts';
import { type PaymentSettings, PaymentsService } from './service.ts';
import { pruneDeliveries } from './store.ts';

export { PaymentTopics } from './events.ts';
export { type PaymentSettings, PaymentsService, toMinorUnits } from './service.ts';
export { decide, type PaymentState, publicStatus } from './states.ts';

const RECONCILE_TASK = 'payments:reconcile';
const PRUNE_DELIVERIES_TASK = 'payments:prune-deliveries';

interface Running {
  service: PaymentsService;
  gateway: PaymentGateway;
  /** This process's HTTP server: where it listens is the default callback base URL. */
  server: Server | undefined;
}

/** Per running platform (tests run several in one process). */
const running = new WeakMap<Platform, Running>();
/** Worker processes: a client-only gateway, made on first use. */
const workers = new WeakMap<Platform, Promise<PaymentsService>>();

/**
 * The payment circuit breaker's state as `GET /api/payments/circuit-breaker-status` answers it (the admin
 * dashboard), or undefined when payments do not run in this process. Read-only.
 */
export async function paymentBreakerStatus(platform: Platform): Promise<CircuitBreakerStatus | undefined> {
  const state = running.get(platform);
  return state ? circuitBreakerStatusBody(await state.gateway.breaker.status()) : undefined;
}

/** The payments service of a running platform (`start`/`api` roles), for tests and tools. */
export function paymentsServiceOf(platform: Platform): PaymentsService | undefined {
  return running.get(platform)?.service;
}

export function paymentSettings(platform: Platform): PaymentSettings {
  const { config } = platform;
  return {
    currency: config.PAYMENT_CURRENCY,
    expiryMinutes: config.PAYMENT_EXPIRY_MINUTES,
    holdGraceMs: config.PAYMENT_HOLD_GRACE_SECONDS * 1000,
    holdMs: config.BOOKING_HOLD_SECONDS * 1000,
    reconcileAfterMs: config.PAYMENT_RECONCILE_AFTER_SECONDS * 1000,
    webhookSecret: config.PAYMENT_WEBHOOK_SECRET,
  };
}

/** `http://host:port` of a listening server (a wildcard address is reached on loopback). */
function listeningUrl(server: Server | undefined): string | undefined {
  const address = server?.address();
  if (typeof address !== 'object' || !address) return undefined;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

function createService(platform: Platform, gateway: PaymentGateway, state: { server?: Server | undefined }) {
  const { config } = platform;
  return new PaymentsService({
    db: platform.db,
    client: gateway.client,
    breaker: gateway.breaker,
    logger: platform.logger.child({ module: 'payments' }),
    booking: () => bookingServiceOf(platform),
    settings: paymentSettings(platform),
    baseUrl: () =>
      config.PAYMENT_CALLBACK_URL?.replace(/\/+$/, '') ??
      listeningUrl(state.server) ??
      `http://127.0.0.1:${config.PORT}`,
  });
}

/**
 * Payments through the acquiring gateway (docs/payments.md): initiatePayment, webhooks, the buyer's return,
 * payment status, refunds of paid bookings, reconciliation (cron, every minute). Without PAYMENT_ENDPOINT the
 * gateway simulator runs in this process so the demo can be paid in a browser.
 */
export const paymentsModule: BoxofficeModule = {
  name: 'payments',
  memoryState: () => 'payment circuit breaker',

  async start(platform) {
    const logger = platform.logger.child({ module: 'payments' });
    const booking = bookingServiceOf(platform);
    if (!booking) throw new Error('payments: the booking module must start before payments');
    // Under `--processes` the cluster primary runs the one simulator (its payments live in its memory).
    const gateway = await openPaymentGateway(platform.config, logger, {
      startSimulator: !cluster.isWorker,
      redis: platform.redis,
    });
    const state: Running = { gateway, server: undefined, service: undefined as never };
    state.service = createService(platform, gateway, state);
    booking.connectPayments(state.service.port);
    running.set(platform, state);
    if (gateway.simulator)
      logger.info({ url: gateway.simulator.url }, 'payments: gateway simulator running in-process');
    return {
      async stop() {
        await state.service.stop();
        await gateway.stop();
        running.delete(platform);
      },
    };
  },

  async routes(app, platform) {
    const state = running.get(platform);
    if (!state) throw new Error('payments: the module must be started before its routes are registered');
    state.server = app.server;
    await paymentRoutes(
      app,
      state.service,
      state.gateway.breaker,
      basicAuth(platform) as unknown as preValidationAsyncHookHandler,
    );
  },

  tasks: (platform) => ({
    [RECONCILE_TASK]: async () => {
      const service = running.get(platform)?.service ?? (await workerService(platform));
      await service.reconcile();
    },
    [PRUNE_DELIVERIES_TASK]: async () => {
      const days = platform.config.PAYMENT_WEBHOOK_RETENTION_DAYS;
      const deleted = await pruneDeliveries(platform.db, new Date(Date.now() - days * 86_400_000));
      platform.logger.info({ module: 'payments', deleted, days }, 'payments: old webhook deliveries deleted');
    },
  }),

  cron: [
    { pattern: '* * * * *', task: RECONCILE_TASK, identifier: 'payments-reconcile' },
    { pattern: '17 3 * * *', task: PRUNE_DELIVERIES_TASK, identifier: 'payments-prune-deliveries' },
  ],
};

function workerService(platform: Platform): Promise<PaymentsService> {
  let service = workers.get(platform);
  if (!service) {
    service = openPaymentGateway(platform.config, platform.logger, {
      startSimulator: false,
      redis: platform.redis,
    }).then((gateway) => createService(platform, gateway, {}));
    workers.set(platform, service);
  }
  return service;
}
