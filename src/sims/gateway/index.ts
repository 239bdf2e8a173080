import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import { behaviourFromConfig } from './behaviour.ts';
import type { GatewaySimulatorOptions } from './server.ts';

export {
  API_CALLS,
  type ApiCall,
  applyBehaviourPatch,
  BANK_FAILURES,
  type BankFailure,
  BehaviourError,
  type BehaviourPatch,
  behaviourFromConfig,
  DEFAULT_BEHAVIOUR,
  type Fault,
  type SimulatorBehaviour,
} from './behaviour.ts';
export { TEST_CARDS } from './cards.ts';
export type { HistoryEntry, SimPayment } from './payments.ts';
export {
  type GatewaySimulator,
  type GatewaySimulatorOptions,
  type MerchantAccount,
  type SimulatorStats,
  startGatewaySimulator,
} from './server.ts';
export type { DeliveryAttempt, WebhookDelivery } from './webhooks.ts';

/**
 * The simulator the environment describes: one merchant (MERCHANT_ID / MERCHANT_PASSWORD /
 * PAYMENT_WEBHOOK_SECRET), SIM_GATEWAY_HOST:SIM_GATEWAY_PORT, and the SIM_* failure modes.
 */
export function simulatorOptionsFromConfig(config: Config, logger?: Logger): GatewaySimulatorOptions {
  return {
    host: config.SIM_GATEWAY_HOST,
    port: config.SIM_GATEWAY_PORT,
    ...(config.SIM_GATEWAY_PUBLIC_URL ? { publicUrl: config.SIM_GATEWAY_PUBLIC_URL } : {}),
    merchants: [
      {
        teamSlug: config.MERCHANT_ID,
        password: config.MERCHANT_PASSWORD,
        webhookSecret: config.PAYMENT_WEBHOOK_SECRET,
      },
    ],
    behaviour: behaviourFromConfig(config),
    ...(logger ? { logger } : {}),
  };
}
