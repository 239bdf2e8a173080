import { Type } from 'typebox';
import { defineConfigSection } from '../../platform/config/section.ts';

/** The gateway simulator section of the configuration (see docs/payments.md). */
export const gatewaySimulatorConfig = defineConfigSection({
  name: 'gateway simulator',
  title: 'Payment gateway simulator (`boxoffice sim gateway`, or in-process when PAYMENT_ENDPOINT is unset)',
  variables: {
    SIM_GATEWAY_HOST: Type.String({
      minLength: 1,
      default: '127.0.0.1',
      description:
        'Interface the gateway simulator binds to (`boxoffice sim gateway`, or in-process when PAYMENT_ENDPOINT is unset).',
    }),
    SIM_GATEWAY_PORT: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8090,
      description: 'Port of the gateway simulator (0 = any free port).',
    }),
    SIM_GATEWAY_PUBLIC_URL: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          "Where buyers' browsers reach the simulator (the origin of its paymentURL links). Unset: its own address.",
      }),
    ),
    SIM_LOST_ANSWER_PERCENT: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 0,
      description:
        'Simulator failure mode 1: % of init calls that are registered but whose answer is lost (a stall, then the connection is cut; or cut at once).',
    }),
    SIM_FORM_FAILURE_PERCENT: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 0,
      description:
        'Simulator failure mode 2: % of card form submits that are processed but whose answer is lost the same way.',
    }),
    SIM_STALL_PERCENT: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 50,
      description:
        'Of the lost answers, % that stall for SIM_STALL_MS before the cut; the rest are cut at once.',
    }),
    SIM_STALL_MS: Type.Integer({
      minimum: 0,
      maximum: 600000,
      default: 60000,
      description: 'How long a stalled answer hangs before the simulator cuts the connection.',
    }),
    SIM_BANK_FAILURE_PERCENT: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 0,
      description:
        'Simulator failure mode 3: % of card payments the acquiring bank fails (network or bank auth error: FAILED; fraud block, online payments disabled, no 3-D Secure: REJECTED).',
    }),
    SIM_WEBHOOK_DELAY_MIN_MS: Type.Integer({
      minimum: 0,
      maximum: 600000,
      default: 0,
      description:
        'Simulator failure mode 4: least delay before a webhook is first sent (a random delay in [MIN, MAX]).',
    }),
    SIM_WEBHOOK_DELAY_MAX_MS: Type.Integer({
      minimum: 0,
      maximum: 600000,
      default: 0,
      description:
        'Simulator failure mode 4: greatest delay before a webhook is first sent (raised to MIN if below it).',
    }),
    SIM_WEBHOOK_LOSS_PERCENT: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 0,
      description: 'Simulator failure mode 4: % of webhooks never sent.',
    }),
    SIM_WEBHOOK_DUPLICATE_PERCENT: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 0,
      description:
        '% of webhooks the simulator delivers twice (same X-Webhook-Delivery), as at-least-once delivery may.',
    }),
    SIM_WEBHOOK_RETRIES: Type.Integer({
      minimum: 0,
      maximum: 20,
      default: 3,
      description:
        'Further attempts of a webhook the receiver did not take (no 2xx answer), with exponential backoff.',
    }),
    SIM_WEBHOOK_RETRY_BASE_MS: Type.Integer({
      minimum: 1,
      maximum: 600000,
      default: 1000,
      description: 'Delay before the first webhook retry; doubled for each next one.',
    }),
    SIM_WEBHOOK_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      maximum: 120000,
      default: 30000,
      description: 'How long the simulator waits for the receiver to answer one webhook attempt.',
    }),
    SIM_AUTO_PAY_DELAY_MS: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 3600000,
        description:
          'When set, the simulator pays each new payment itself this long after init, with SIM_AUTO_PAY_CARD (load tests without a browser); the merchant still confirms.',
      }),
    ),
    SIM_AUTO_PAY_CARD: Type.String({
      pattern: '^[0-9]{12,19}$',
      default: '4111111111111111',
      description:
        'Card number the simulator auto-pays with (a declined test card makes every auto-payment fail).',
    }),
  },
});
