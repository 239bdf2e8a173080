import type { FastifyReply, preValidationAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import { errorResponse, positiveId } from '../platform/http/schemas.ts';
import { strictBody } from '../platform/http/strict-body.ts';
import type { HttpApp } from '../platform/http/types.ts';
import { SALES_TOTALS, ZoneSales } from './sales-schemas.ts';
import { type BookingService, RECENT_OTHER_BOOKINGS } from './service.ts';

const authErrors = {
  401: errorResponse('No or wrong HTTP Basic credentials'),
  429: errorResponse('Too many failed sign-ins'),
};
const badInput = { 400: errorResponse('Malformed body or parameters: the message says which') };
const busy = {
  503: errorResponse('Lock wait timed out under contention (BOOKING_BUSY), or shutting down: retry'),
};
const empty = (description: string) => ({ description, type: 'null' as const });
/** `GET /api/bookings?page=…` without `pageSize`. */
const PAGE_SIZE_DEFAULT = 100;

const SeatItem = Type.Object({
  id: Type.Integer(),
  row: Type.Integer(),
  number: Type.Integer(),
  status: Type.Union([Type.Literal('FREE'), Type.Literal('RESERVED'), Type.Literal('SOLD')]),
  price: Type.String({ description: 'Decimal string', examples: ['40000.00'] }),
});

const Totals = { event_id: Type.Integer(), ...SALES_TOTALS };

/** 200 with no body: the spec defines none for these answers. */
const emptyOk = (reply: FastifyReply) => reply.code(200).send();

/** The Biletter API routes of the booking module (specs/biletter-api.openapi.json) and the zone analytics. */
export async function bookingRoutes(
  app: HttpApp,
  service: BookingService,
  auth: preValidationAsyncHookHandler,
): Promise<void> {
  // Authentication runs before validation, so an anonymous caller learns nothing about the input rules.
  const preValidation = auth;

  app.get(
    '/api/seats',
    {
      preValidation,
      schema: {
        tags: ['Seats'],
        summary: 'List the seats of an event with their live status',
        description:
          'In id order (row by row). A seat held by anyone, or pending payment, is RESERVED; an expired hold is FREE at once.',
        querystring: Type.Object({
          event_id: positiveId('The event'),
          page: Type.Integer({ minimum: 1, maximum: 2_147_483_647, default: 1 }),
          pageSize: Type.Integer({ minimum: 1, maximum: 20, default: 20 }),
          row: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
          status: Type.Optional(
            Type.Union([Type.Literal('FREE'), Type.Literal('RESERVED'), Type.Literal('SOLD')]),
          ),
        }),
        response: {
          200: Type.Array(SeatItem),
          ...badInput,
          ...authErrors,
          404: errorResponse('No such event'),
        },
      },
    },
    async (request) => {
      const { event_id, page, pageSize, row, status } = request.query;
      return service.listSeats(event_id, { page, pageSize, row, status });
    },
  );

  app.post(
    '/api/bookings',
    {
      preValidation,
      validatorCompiler: strictBody,
      schema: {
        tags: ['Bookings'],
        summary: 'Create an empty booking for an event',
        body: Type.Object({ event_id: positiveId('The event to book') }),
        response: {
          201: Type.Object({ id: Type.Integer() }),
          ...badInput,
          ...authErrors,
          404: errorResponse('No such event'),
          409: errorResponse('The event has started or has no seats on sale'),
          ...busy,
        },
      },
    },
    async (request, reply) => {
      const booking = await service.createBooking(request.user!, request.body.event_id);
      return reply.code(201).send(booking);
    },
  );

  app.get(
    '/api/bookings',
    {
      preValidation,
      schema: {
        tags: ['Bookings'],
        summary: "The caller's bookings, newest first, with the seats each holds now",
        description: `Without paging parameters: every booking that holds seats, is pending payment or is paid, plus the newest ${RECENT_OTHER_BOOKINGS} others (empty, cancelled, refunded; older empty bookings are left out). With \`page\` or \`pageSize\`: a page of all the caller's bookings.`,
        querystring: Type.Object({
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Default 1' })),
          pageSize: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 1000, description: `Default ${PAGE_SIZE_DEFAULT}` }),
          ),
        }),
        response: {
          200: Type.Array(
            Type.Object({
              id: Type.Integer(),
              event_id: Type.Integer(),
              seats: Type.Array(Type.Object({ id: Type.Integer() })),
            }),
          ),
          ...badInput,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { page, pageSize } = request.query;
      const paged = page !== undefined || pageSize !== undefined;
      return service.listBookings(
        request.user!,
        paged ? { page: page ?? 1, pageSize: pageSize ?? PAGE_SIZE_DEFAULT } : undefined,
      );
    },
  );

  app.patch(
    '/api/seats/select',
    {
      preValidation,
      validatorCompiler: strictBody,
      schema: {
        tags: ['Seats'],
        summary: 'Hold a seat for a booking (atomic, BOOKING_HOLD_SECONDS)',
        description:
          'Answered once the hold is durable. Selecting a seat the booking already holds is answered 200 and does not extend the hold.',
        body: Type.Object({
          booking_id: positiveId('Your booking'),
          seat_id: positiveId('A seat of the booking’s event'),
        }),
        response: {
          200: empty('The seat is held for the booking'),
          ...badInput,
          ...authErrors,
          403: errorResponse('The booking is another user’s'),
          404: errorResponse('No such booking, or no such seat in the booking’s event'),
          419: errorResponse(
            'Not added: the seat is taken (BOOKING_SEAT_TAKEN), the per-user limit is reached (BOOKING_HOLD_LIMIT), or the booking no longer takes seats (BOOKING_NOT_OPEN)',
          ),
          ...busy,
        },
      },
    },
    async (request, reply) => {
      await service.selectSeat(request.user!, request.body.booking_id, request.body.seat_id);
      return emptyOk(reply);
    },
  );

  app.patch(
    '/api/seats/release',
    {
      preValidation,
      validatorCompiler: strictBody,
      schema: {
        tags: ['Seats'],
        summary: 'Give back a seat you hold',
        body: Type.Object({ seat_id: positiveId('A seat you hold') }),
        response: {
          200: empty('The seat is free again'),
          ...badInput,
          ...authErrors,
          403: errorResponse('The seat is held by another user'),
          404: errorResponse('No such seat'),
          419: errorResponse(
            'Not released: nobody holds the seat, e.g. the hold expired (BOOKING_SEAT_NOT_HELD), or its booking is pending payment or paid (BOOKING_SEAT_LOCKED)',
          ),
          ...busy,
        },
      },
    },
    async (request, reply) => {
      await service.releaseSeat(request.user!, request.body.seat_id);
      return emptyOk(reply);
    },
  );

  app.patch(
    '/api/bookings/cancel',
    {
      preValidation,
      validatorCompiler: strictBody,
      schema: {
        tags: ['Bookings'],
        summary: 'Cancel a booking: free its seats, or refund it if it is paid',
        description:
          'Unpaid (created or pending payment): the seats are free at once and a started payment is given back. Paid: refunded through the payment gateway up to 12 hours before the event (later: 409 BOOKING_REFUND_CLOSED), and the seats go back on sale. Idempotent: cancelling a cancelled or refunded booking is answered 200.',
        body: Type.Object({ booking_id: positiveId('Your booking') }),
        response: {
          200: empty('Cancelled, or refunded'),
          202: Type.Object(
            { status: Type.Literal('refund_pending'), message: Type.String() },
            {
              description:
                'Refund asked for, the gateway’s answer is not known yet: the booking stays paid until the gateway confirms the refund (GET /api/bookings/{id}/payment-status follows it)',
            },
          ),
          ...badInput,
          ...authErrors,
          403: errorResponse('The booking is another user’s'),
          404: errorResponse('No such booking'),
          409: errorResponse(
            'Too late to refund (BOOKING_REFUND_CLOSED), or the booking is paid and payments are not running (BOOKING_NOT_CANCELLABLE)',
          ),
          502: errorResponse('The payment gateway refused the refund'),
          ...busy,
        },
      },
    },
    async (request, reply) => {
      const outcome = await service.cancelBooking(request.user!, request.body.booking_id);
      if (outcome === 'pending') {
        return reply.code(202).send({
          status: 'refund_pending' as const,
          message: 'the refund is asked for; the booking stays paid until the payment gateway confirms it',
        });
      }
      return emptyOk(reply);
    },
  );

  app.get(
    '/api/analytics',
    {
      preValidation,
      schema: {
        tags: ['Analytics'],
        summary: 'Sales of an event, live (expired holds count as free)',
        querystring: Type.Object({ id: positiveId('The event') }),
        response: {
          200: Type.Object(Totals),
          ...badInput,
          ...authErrors,
          404: errorResponse('No such event'),
        },
      },
    },
    async (request) => service.analytics(request.query.id),
  );

  app.get(
    '/api/analytics/zones',
    {
      preValidation,
      schema: {
        tags: ['Analytics'],
        summary: 'Sales of an event per zone, live: seats by status and revenue, plus the totals',
        querystring: Type.Object({ id: positiveId('The event') }),
        response: {
          200: Type.Object({ ...Totals, zones: Type.Array(ZoneSales) }),
          ...badInput,
          ...authErrors,
          404: errorResponse('No such event'),
        },
      },
    },
    async (request) => service.zoneAnalytics(request.query.id),
  );

  app.post(
    '/api/reset',
    {
      schema: {
        tags: ['System'],
        summary: 'Remove every booking, hold and payment (users, events and seat maps stay)',
        description:
          'For test runs. Enabled in development and test; in production only with BOOKING_RESET_ENABLED=true, else 403.',
        response: {
          200: empty('Reset done'),
          403: errorResponse('Disabled by configuration (BOOKING_RESET_DISABLED)'),
          ...busy,
        },
      },
    },
    async (_request, reply) => {
      await service.reset();
      return emptyOk(reply);
    },
  );
}
