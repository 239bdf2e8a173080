import { Type } from 'typebox';
import { defineConfigSection } from '../platform/config/section.ts';

/** The payments section of the configuration (see docs/payments.md). */
export const paymentsConfig = defineConfigSection({
  name: 'payments',
  title: 'Payments: the acquiring gateway, webhooks, reconciliation and the circuit breaker',
  variables: {
    PAYMENT_ENDPOINT: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'Base URL of the payment gateway API, e.g. https://gateway.example/api/v1. Unset: the built-in gateway simulator is started in-process on SIM_GATEWAY_HOST:SIM_GATEWAY_PORT and used.',
      }),
    ),
    MERCHANT_ID: Type.String({
      minLength: 1,
      default: 'boxoffice',
      description:
        'Our merchant id at the gateway (teamSlug, the team slug). The simulator accepts it with MERCHANT_PASSWORD.',
    }),
    MERCHANT_PASSWORD: Type.String({
      minLength: 1,
      default: 'boxoffice-dev-password',
      description:
        'Merchant password that signs gateway requests (SHA-256 tokens). The default is for the simulator only.',
    }),
    PAYMENT_WEBHOOK_SECRET: Type.String({
      minLength: 1,
      default: 'boxoffice-dev-webhook-secret',
      description:
        'Key of the HMAC-SHA256 signature on gateway webhooks (X-Webhook-Signature). The default is for the simulator only.',
    }),
    PAYMENT_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      maximum: 120000,
      default: 10000,
      description: 'Deadline of each gateway call attempt: connect, send and the whole answer.',
    }),
    PAYMENT_RETRY_ATTEMPTS: Type.Integer({
      minimum: 1,
      maximum: 10,
      default: 3,
      description:
        'Attempts, the first included, of a gateway call that is safe to repeat (init per orderId, check); confirm and cancel check the payment before repeating.',
    }),
    PAYMENT_CURRENCY: Type.Union(
      [Type.Literal('KZT'), Type.Literal('RUB'), Type.Literal('USD'), Type.Literal('EUR')],
      {
        default: 'KZT',
        description: 'Currency of zone prices and payments (the gateway takes minor units: 1 KZT = 100).',
      },
    ),
    PAYMENT_EXPIRY_MINUTES: Type.Integer({
      minimum: 1,
      maximum: 10080,
      default: 15,
      description:
        'How long a buyer has to pay (the gateway expires the payment then). The booking’s seats stay held that long plus PAYMENT_HOLD_GRACE_SECONDS.',
    }),
    PAYMENT_HOLD_GRACE_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 3600,
      default: 120,
      description:
        'Seats of a booking pending payment stay held this long past the payment’s expiry, so a payment authorized at the last moment still finds them.',
    }),
    PAYMENT_RECONCILE_AFTER_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 60,
      description:
        'A payment not settled and unchanged this long is checked with the gateway by the reconciliation job (lost webhooks, lost answers).',
    }),
    PAYMENT_WEBHOOK_RETENTION_DAYS: Type.Integer({
      minimum: 1,
      maximum: 3650,
      default: 30,
      description:
        'Webhook deliveries older than this are deleted by a daily job. They only deduplicate repeats (gateways retry for hours, not weeks); the ledger keeps every transition with its delivery id.',
    }),
    PAYMENT_CALLBACK_URL: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'Public base URL of this API, where the gateway posts webhooks (/api/payments/notifications) and sends buyers back (/api/payments/success|fail). Unset: the address the API listens on.',
      }),
    ),
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 5,
      description:
        'Consecutive gateway failures (timeouts, connection errors, 5xx) that open the circuit breaker; declines and other 4xx answers do not count.',
    }),
    CIRCUIT_BREAKER_TIMEOUT_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: 60,
      description:
        'How long an open breaker fails payment calls fast (503) before it lets one trial call through.',
    }),
    CIRCUIT_BREAKER_REDIS_PREFIX: Type.String({
      minLength: 1,
      default: 'boxoffice:breaker:',
      description:
        'Prefix of the circuit breaker keys in Redis (with REDIS_URL every process shares the breaker), so deployments can share one Redis.',
    }),
  },
});
