import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import type { Redis } from '../../platform/redis.ts';
import {
  type Breaker,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from '../../platform/resilience/circuit-breaker.ts';
import { RedisCircuitBreaker } from '../../platform/resilience/redis-circuit-breaker.ts';
import type { GatewaySimulator } from '../../sims/gateway/index.ts';
import { paymentsConfig } from '../config.ts';
import { GatewayClient } from './client.ts';

export interface PaymentGateway {
  client: GatewayClient;
  /**
   * Shared by every gateway call of this process, and with REDIS_URL by every process of the deployment;
   * its status is the circuit-breaker status.
   */
  breaker: Breaker;
  /** The in-process simulator the client talks to when PAYMENT_ENDPOINT is unset. */
  simulator: GatewaySimulator | undefined;
  /** Verifies incoming webhooks (`verifyWebhookSignature`). */
  webhookSecret: string;
  stop(): Promise<void>;
}

/**
 * The gateway's breaker as configured, with its state in Redis when there is one (every process opens and
 * closes it together), in this process otherwise.
 */
export function openGatewayBreaker(
  config: Pick<
    Config,
    'CIRCUIT_BREAKER_FAILURE_THRESHOLD' | 'CIRCUIT_BREAKER_TIMEOUT_SECONDS' | 'CIRCUIT_BREAKER_REDIS_PREFIX'
  >,
  logger: Logger | undefined,
  redis: Redis | undefined,
  overrides: Partial<CircuitBreakerOptions> = {},
): Breaker {
  if (!redis) return createGatewayBreaker(config, logger, overrides);
  return new RedisCircuitBreaker({
    ...gatewayBreakerOptions(config, logger),
    ...overrides,
    redis,
    prefix: config.CIRCUIT_BREAKER_REDIS_PREFIX,
    logger,
  });
}

function gatewayBreakerOptions(
  config: Pick<Config, 'CIRCUIT_BREAKER_FAILURE_THRESHOLD' | 'CIRCUIT_BREAKER_TIMEOUT_SECONDS'>,
  logger?: Logger,
): CircuitBreakerOptions {
  return {
    name: 'payment gateway',
    failureThreshold: config.CIRCUIT_BREAKER_FAILURE_THRESHOLD,
    openTimeoutMs: config.CIRCUIT_BREAKER_TIMEOUT_SECONDS * 1000,
    onStateChange: ({ from, to, snapshot }) =>
      logger?.warn({ from, to, breaker: snapshot }, `payment gateway circuit breaker: ${from} → ${to}`),
  };
}

/** The gateway's in-process breaker: failures are what the gateway client marks as peer failures. */
export function createGatewayBreaker(
  config: Pick<Config, 'CIRCUIT_BREAKER_FAILURE_THRESHOLD' | 'CIRCUIT_BREAKER_TIMEOUT_SECONDS'>,
  logger?: Logger,
  overrides: Partial<CircuitBreakerOptions> = {},
): CircuitBreaker {
  return new CircuitBreaker({ ...gatewayBreakerOptions(config, logger), ...overrides });
}

const defaultOf = (key: 'MERCHANT_PASSWORD' | 'PAYMENT_WEBHOOK_SECRET') =>
  (paymentsConfig.variables[key] as unknown as { default: string }).default;

/**
 * Everything the payments flow needs to talk to the gateway: the client (with the breaker) pointed at
 * PAYMENT_ENDPOINT, or, when that is unset, at a simulator started here in-process (stopped by `stop`); with
 * `startSimulator: false` (a worker process), at the simulator another process of the deployment runs on
 * SIM_GATEWAY_HOST:SIM_GATEWAY_PORT. Production with a real endpoint refuses the development credentials.
 */
export async function openPaymentGateway(
  config: Config,
  logger: Logger,
  options: { startSimulator?: boolean; redis?: Redis | undefined } = {},
): Promise<PaymentGateway> {
  const production = config.NODE_ENV === 'production';
  if (production && config.PAYMENT_ENDPOINT) {
    const weak = (['MERCHANT_PASSWORD', 'PAYMENT_WEBHOOK_SECRET'] as const).filter(
      (key) => config[key] === defaultOf(key),
    );
    if (weak.length > 0)
      throw new Error(
        `${weak.join(' and ')} must be set in production: the defaults are for the simulator only`,
      );
  }
  let simulator: GatewaySimulator | undefined;
  let endpoint = config.PAYMENT_ENDPOINT;
  if (!endpoint && options.startSimulator === false) {
    endpoint = `http://${config.SIM_GATEWAY_HOST}:${config.SIM_GATEWAY_PORT}/api/v1`;
  }
  if (!endpoint) {
    // Loaded only when used: a deployment with a real gateway never runs simulator code.
    const { simulatorOptionsFromConfig, startGatewaySimulator } = await import('../../sims/gateway/index.ts');
    simulator = await startGatewaySimulator(simulatorOptionsFromConfig(config, logger)).catch(
      (error: NodeJS.ErrnoException) => {
        throw new Error(
          `payments: cannot start the built-in gateway simulator on ${config.SIM_GATEWAY_HOST}:${config.SIM_GATEWAY_PORT} (SIM_GATEWAY_HOST, SIM_GATEWAY_PORT): ${error.code ?? error.message}; set PAYMENT_ENDPOINT to use a running gateway instead`,
        );
      },
    );
    endpoint = simulator.apiUrl;
    if (production)
      logger.warn({ endpoint }, 'PAYMENT_ENDPOINT is unset: payments go to the built-in simulator');
  }
  const breaker = openGatewayBreaker(config, logger, options.redis);
  const client = new GatewayClient({
    endpoint,
    teamSlug: config.MERCHANT_ID,
    password: config.MERCHANT_PASSWORD,
    timeoutMs: config.PAYMENT_TIMEOUT_MS,
    retry: { attempts: config.PAYMENT_RETRY_ATTEMPTS },
    breaker,
    logger,
  });
  return {
    client,
    breaker,
    simulator,
    webhookSecret: config.PAYMENT_WEBHOOK_SECRET,
    stop: async () => {
      await simulator?.stop();
    },
  };
}
