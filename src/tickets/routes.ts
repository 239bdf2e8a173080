import type { FastifyReply, preValidationAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import type { BookingService } from '../booking/index.ts';
import { requirePermission } from '../platform/auth/access.ts';
import type { Platform } from '../platform/context.ts';
import { errorResponse, positiveId } from '../platform/http/schemas.ts';
import { strictBody } from '../platform/http/strict-body.ts';
import type { HttpApp } from '../platform/http/types.ts';
import { TicketErrors } from './errors.ts';
import { openTicketsPdf, scanTicket, ticketSignerOf } from './service.ts';
import { publicKeyDocument, TOKEN_BYTES, TOKEN_LENGTH } from './token.ts';

/** Gate scanners run as service accounts (role USER) with this permission. */
const SCAN_PERMISSION = 'tickets:scan';

const ScannedTicket = Type.Object({
  id: Type.Integer(),
  booking_id: Type.Integer(),
  seat_id: Type.Integer(),
  event_id: Type.Integer(),
  event_title: Type.String(),
  event_starts_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  venue: Type.Union([Type.String(), Type.Null()]),
  row: Type.Union([Type.Integer(), Type.Null()]),
  number: Type.Union([Type.Integer(), Type.Null()]),
  zone: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('valid'), Type.Literal('used'), Type.Literal('revoked')], {
    description: 'After this scan',
  }),
});

export async function ticketsRoutes(
  app: HttpApp,
  platform: Platform,
  bookings: () => BookingService | undefined,
  buyerAuth: preValidationAsyncHookHandler,
): Promise<void> {
  app.get(
    '/api/bookings/:booking_id/tickets.pdf',
    {
      preValidation: buyerAuth,
      schema: {
        tags: ['Tickets'],
        summary: 'The e-tickets of your paid booking: one PDF, a page per seat with its QR code',
        description:
          'Made shortly after the payment is confirmed (404 TICKETS_NOT_READY until then). 404 for a booking that is not paid (refunded tickets are revoked).',
        params: Type.Object({ booking_id: positiveId('Your booking') }),
        produces: ['application/pdf'],
        response: {
          200: {
            description: 'The PDF (Content-Disposition: attachment; filename="tickets-booking-<id>.pdf")',
            content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
          },
          400: errorResponse('Malformed booking id'),
          401: errorResponse('No or wrong HTTP Basic credentials'),
          403: errorResponse('Another user’s booking'),
          404: errorResponse('No such booking, not paid, or its tickets are still being made'),
          429: errorResponse('Too many failed sign-ins'),
          503: errorResponse('The stored PDF cannot be read right now'),
        },
      },
    },
    async (request, reply) => {
      const bookingId = (request.params as { booking_id: number }).booking_id;
      const service = bookings();
      if (!service) throw new Error('tickets: the booking module is not running in this process');
      const booking = await service.ownedBooking(request.user!, bookingId);
      if (booking.status !== 'paid') throw TicketErrors.notPaid(bookingId, booking.status);
      return sendPdf(reply, await openTicketsPdf(platform, bookingId));
    },
  );

  app.post(
    '/api/tickets/verify',
    {
      preValidation: requirePermission(platform, SCAN_PERMISSION),
      validatorCompiler: strictBody,
      schema: {
        tags: ['Tickets'],
        summary: 'Scan a ticket at the gate: the first scan of a valid ticket marks it used',
        description: `Needs a service account with ${SCAN_PERMISSION}. \`invalid\`: not a genuine token (or no such ticket); \`already_used\` carries used_at.`,
        body: Type.Object({
          token: Type.String({
            minLength: 1,
            maxLength: 1024,
            description: `The QR code's text (${TOKEN_LENGTH} base64url characters)`,
          }),
        }),
        response: {
          200: Type.Object({
            result: Type.Union([
              Type.Literal('valid'),
              Type.Literal('already_used'),
              Type.Literal('revoked'),
              Type.Literal('invalid'),
            ]),
            ticket: Type.Optional(ScannedTicket),
            used_at: Type.Optional(Type.String({ format: 'date-time' })),
          }),
          400: errorResponse('Malformed body'),
          401: errorResponse('No or invalid Bearer token'),
          403: errorResponse(`The token lacks ${SCAN_PERMISSION}`),
          429: errorResponse('Over the service account’s rate limit'),
        },
      },
    },
    async (request) => {
      const { token } = request.body as { token: string };
      return scanTicket(platform, token, request.principal!);
    },
  );

  app.get(
    '/api/tickets/public-key',
    {
      schema: {
        tags: ['Tickets'],
        summary: 'The Ed25519 public key gates verify ticket tokens with, offline',
        description:
          'Token: base64url of version (1 byte, 1), ticket id, booking id, seat id (8 bytes each, big-endian), then the Ed25519 signature (64 bytes) of those 25 bytes.',
        response: {
          200: Type.Object({
            alg: Type.Literal('EdDSA'),
            jwk: Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String() }),
            pem: Type.String({ description: 'SPKI, PEM' }),
            token_bytes: Type.Integer(),
          }),
        },
      },
    },
    async (_request, reply) => {
      const signer = await ticketSignerOf(platform);
      reply.header('cache-control', 'public, max-age=300');
      return { alg: 'EdDSA' as const, ...publicKeyDocument(signer.publicKey), token_bytes: TOKEN_BYTES };
    },
  );
}

/** Streams the stored PDF (the route's 200 is bytes, not a schema-serialized body). */
function sendPdf(reply: FastifyReply, pdf: Awaited<ReturnType<typeof openTicketsPdf>>): FastifyReply {
  return reply
    .header('content-type', 'application/pdf')
    .header('content-length', String(pdf.sizeBytes))
    .header('content-disposition', `attachment; filename="${pdf.filename}"`)
    .header('etag', `"${pdf.checksum}"`)
    .header('cache-control', 'private, no-store')
    .send(pdf.stream);
}
