/** The payment gateway client (docs/payments.md): the one entry point of `src/payments/gateway/`. */
export {
  type CircuitBreakerStatus,
  CircuitBreakerStatusSchema,
  circuitBreakerStatusBody,
} from './breaker-status.ts';
export {
  type CallOptions,
  type CheckQuery,
  GatewayClient,
  type GatewayClientOptions,
  type RetryPolicy,
} from './client.ts';
export {
  classifyGatewayAnswer,
  GatewayApiError,
  GatewayCancelledError,
  GatewayError,
  type GatewayErrorCode,
  GatewayNetworkError,
  GatewayOutcomeUnknownError,
  GatewayResponseError,
  GatewayStateError,
  GatewayTimeoutError,
  isGatewayError,
} from './errors.ts';
export {
  createGatewayBreaker,
  openGatewayBreaker,
  openPaymentGateway,
  type PaymentGateway,
} from './setup.ts';
export {
  cancelToken,
  checkToken,
  confirmToken,
  initToken,
  type MerchantCredentials,
  sha256Hex,
} from './token.ts';
export * from './types.ts';
export {
  type PaymentWebhook,
  parseWebhook,
  signWebhookBody,
  verifyWebhookSignature,
  WEBHOOK_HEADERS,
  WebhookPayloadError,
} from './webhook.ts';
