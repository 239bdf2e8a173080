import type { FastifyReply, FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../platform/http/errors.ts';
import { errorResponse, positiveId } from '../platform/http/schemas.ts';
import type { HttpApp } from '../platform/http/types.ts';
import type { Breaker } from '../platform/resilience/circuit-breaker.ts';
import { CircuitBreakerStatusSchema, circuitBreakerStatusBody } from './gateway/index.ts';
import { type PaymentsService, paymentView } from './service.ts';
import { PAYMENT_STATES, type PaymentState, type publicStatus } from './states.ts';
import type { PaymentRow } from './store.ts';

const authErrors = {
  401: errorResponse('No or wrong HTTP Basic credentials'),
  429: errorResponse('Too many failed sign-ins'),
};

const Payment = Type.Object({
  payment_id: Type.Union([Type.String(), Type.Null()], {
    description: 'The gateway’s id (null until it answered)',
  }),
  order_id: Type.String({ description: 'Our order id at the gateway' }),
  booking_id: Type.Integer(),
  state: Type.Unsafe<PaymentState>({
    type: 'string',
    enum: [...PAYMENT_STATES],
    description: 'Our side of the payment (docs/payments.md)',
  }),
  status: Type.Unsafe<ReturnType<typeof publicStatus>>({
    type: 'string',
    enum: ['pending', 'completed', 'failed', 'expired', 'refunded'],
    description: 'Coarse status (seed 000)',
  }),
  gateway_status: Type.Union([Type.String(), Type.Null()], {
    description: 'The gateway’s last known status',
  }),
  failure_reason: Type.Union([Type.String(), Type.Null()]),
  amount: Type.String({ description: 'Decimal string: the sum of the seats’ prices' }),
  currency: Type.String(),
  payment_url: Type.Union([Type.String(), Type.Null()], { description: 'The card form' }),
  expires_at: Type.String({ format: 'date-time' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

const Initiated = Type.Object(
  {
    payment_id: Type.String(),
    payment_url: Type.String(),
    amount: Type.String({ description: 'Decimal string' }),
    currency: Type.String(),
    expires_at: Type.String({ format: 'date-time' }),
  },
  { description: 'JSON clients (Accept: application/json, no browser headers): where to pay' },
);

/**
 * Whether to answer a JSON body instead of the spec's 302 (specs/README.md): the client asks for JSON and is
 * not a browser (a browser navigating sends text/html or fetch-metadata headers, and should be redirected).
 */
function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  if (!accept.includes('application/json') || accept.includes('text/html')) return false;
  const h = request.headers;
  return !(h['sec-fetch-mode'] || h['sec-fetch-dest'] || h['upgrade-insecure-requests']);
}

/** The Biletter API's payment routes (specs/biletter-api.openapi.json, seed 000). */
export async function paymentRoutes(
  app: HttpApp,
  service: PaymentsService,
  breaker: Breaker,
  auth: preValidationAsyncHookHandler,
): Promise<void> {
  app.patch(
    '/api/bookings/initiatePayment',
    {
      preValidation: auth,
      schema: {
        tags: ['Bookings'],
        summary: 'Start paying for a booking: 302 to the gateway’s card form',
        description:
          'Only the owner, only with at least one held seat; the amount is the sum of the seats’ zone prices. The booking becomes pending_payment and its seats stay held until the payment expires. A repeat returns the same payment. A client sending Accept: application/json and no browser headers gets 200 JSON instead of the 302.',
        body: Type.Object({ booking_id: positiveId('Your booking') }),
        response: {
          200: Initiated,
          302: { description: 'To the card form (Location)', type: 'null' },
          400: errorResponse('Malformed body'),
          ...authErrors,
          403: errorResponse('The booking is another user’s'),
          404: errorResponse('No such booking'),
          409: errorResponse(
            'The booking holds no seats (BOOKING_EMPTY), is cancelled (BOOKING_NOT_PAYABLE) or paid (PAYMENT_ALREADY_PAID)',
          ),
          502: errorResponse('The gateway refused the payment'),
          503: errorResponse('The gateway is unavailable: the circuit breaker is open (CIRCUIT_OPEN)'),
          504: errorResponse(
            'The gateway did not answer (PAYMENT_INIT_UNKNOWN): repeat, the same payment comes back',
          ),
        },
      },
    },
    async (request, reply) => {
      const payment = await service.initiate(request.user!, request.body.booking_id);
      const url = payment.paymentUrl!;
      if (wantsJson(request)) {
        return reply.code(200).send({
          payment_id: payment.gatewayPaymentId!,
          payment_url: url,
          amount: payment.amount,
          currency: payment.currency,
          expires_at: payment.expiresAt.toISOString(),
        });
      }
      return reply.redirect(url, 302);
    },
  );

  app.get(
    '/api/bookings/:booking_id/payment-status',
    {
      preValidation: auth,
      schema: {
        tags: ['Payments'],
        summary: 'The booking’s payment and its whole money story',
        params: Type.Object({ booking_id: positiveId('Your booking') }),
        response: {
          200: Type.Object({
            booking_id: Type.Integer(),
            booking_status: Type.String(),
            payment_status: Type.String({
              description: 'none | pending | completed | failed | expired | refunded',
            }),
            payment: Type.Union([Payment, Type.Null()], { description: 'The latest payment' }),
            history: Type.Array(
              Type.Object({
                payment_id: Type.Integer(),
                from_state: Type.Union([Type.String(), Type.Null()]),
                to_state: Type.String(),
                gateway_status: Type.Union([Type.String(), Type.Null()]),
                source: Type.String({ description: 'api | webhook | callback | reconciliation | buyer' }),
                reference: Type.Union([Type.String(), Type.Null()]),
                detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
                  description: 'Why, when there is more to say (decline reason, lost seats…)',
                }),
                at: Type.String({ format: 'date-time' }),
              }),
              { description: 'Every transition of every payment of the booking, in order (the ledger)' },
            ),
          }),
          400: errorResponse('Malformed booking id'),
          ...authErrors,
          403: errorResponse('The booking is another user’s'),
          404: errorResponse('No such booking'),
        },
      },
    },
    async (request) => service.statusOf(request.user!, request.params.booking_id),
  );

  const CallbackQuery = Type.Object({
    paymentId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    orderId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'Our order id, or the booking id' }),
    ),
  });
  const CallbackAnswer = Type.Object({
    success: Type.Boolean({ description: 'True when the booking is paid' }),
    booking_id: Type.Integer(),
    payment: Payment,
  });
  const callback = (kind: 'success' | 'fail') => async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as { paymentId?: string; orderId?: string };
    if (!query.paymentId && !query.orderId) {
      throw new AppError('VALIDATION_FAILED', 400, 'querystring must have paymentId or orderId');
    }
    const payment = await service.callback(query);
    const body = {
      success: payment.state === 'confirmed',
      booking_id: payment.bookingId,
      payment: paymentView(payment),
    };
    if ((request.headers.accept ?? '').includes('text/html')) {
      return reply.type('text/html; charset=utf-8').send(callbackPage(kind, payment));
    }
    return body;
  };
  for (const kind of ['success', 'fail'] as const) {
    app.get(
      `/api/payments/${kind}`,
      {
        schema: {
          tags: ['Payments'],
          summary:
            kind === 'success'
              ? 'The buyer’s browser back from the gateway after paying'
              : 'The buyer’s browser back from the gateway after a failed payment',
          description:
            'The query only names the payment: what happened to it is checked with the gateway, and the booking follows (paid, or cancelled and its seats freed). Browsers (Accept: text/html) get a page.',
          querystring: CallbackQuery,
          response: {
            200: CallbackAnswer,
            400: errorResponse('Neither paymentId nor orderId'),
            404: errorResponse('No such payment'),
          },
        },
      },
      callback(kind),
    );
  }

  app.get(
    '/api/payments/circuit-breaker-status',
    {
      schema: {
        tags: ['Payments'],
        summary: 'State of the payment gateway’s circuit breaker (shared by every process with REDIS_URL)',
        response: { 200: CircuitBreakerStatusSchema },
      },
    },
    async () => circuitBreakerStatusBody(await breaker.status()),
  );

  // Webhooks are verified against the raw bytes, so their body is not parsed before the handler.
  await app.register(async (hooks) => {
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const path of ['/api/payments/notifications', '/api/webhook/payment']) {
      hooks.post(
        path,
        {
          schema: {
            tags: ['Payments'],
            summary: 'Status webhook of the payment gateway',
            description:
              'HMAC-SHA256 of the raw body in X-Webhook-Signature (verified when PAYMENT_WEBHOOK_SECRET is set). Idempotent per delivery and status, safe in any order; processed while the circuit breaker is open. /api/payments/notifications and /api/webhook/payment are the same.',
            response: {
              200: Type.Object({ success: Type.Boolean(), outcome: Type.String() }),
              400: errorResponse('Not a webhook of the gateway'),
              401: errorResponse('Missing or wrong signature'),
            },
          },
        },
        async (request) => {
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          const { outcome } = await service.webhook(raw, request.headers);
          return { success: true, outcome };
        },
      );
    }
  });
}

function callbackPage(kind: 'success' | 'fail', payment: PaymentRow): string {
  const paid = payment.state === 'confirmed';
  const title = paid
    ? 'Payment received'
    : payment.state === 'pending' || payment.state === 'capturing' || payment.state === 'initiating'
      ? 'Payment in progress'
      : 'Payment not completed';
  const line = paid
    ? `Booking ${payment.bookingId} is paid: ${payment.amount} ${payment.currency}. Your tickets are on their way.`
    : payment.state === 'pending' || payment.state === 'capturing'
      ? `We are still waiting for the bank's answer for booking ${payment.bookingId}. This page does not need to stay open.`
      : `Booking ${payment.bookingId} was not paid${payment.failureReason ? ` (${escapeHtml(payment.failureReason)})` : ''}; its seats are released.`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${line}</p><p><small>${kind === 'success' ? 'Returned from the payment page.' : 'The payment page reported a problem.'} Payment ${escapeHtml(payment.gatewayPaymentId ?? payment.orderId)}.</small></p></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
