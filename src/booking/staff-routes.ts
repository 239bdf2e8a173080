import { Type } from 'typebox';
import { catalogSearchOf, searchEventsForStaff } from '../catalog/index.ts';
import { userEmails, userIdByEmail } from '../identity/index.ts';
import { paymentsServiceOf } from '../payments/index.ts';
import { appendAudit, auditFromPrincipal } from '../platform/audit/index.ts';
import { requirePermission } from '../platform/auth/access.ts';
import type { Platform } from '../platform/context.ts';
import { AppError } from '../platform/http/errors.ts';
import { errorResponse, positiveId } from '../platform/http/schemas.ts';
import type { HttpApp } from '../platform/http/types.ts';
import { BookingErrors } from './errors.ts';
import { SALES_TOTALS, ZoneSales } from './sales-schemas.ts';
import { seatLabels } from './seating/store.ts';
import type { BookingService } from './service.ts';
import { findStaffBookings, liveSeatStates, seatRuns } from './staff-store.ts';
import { findBooking } from './store.ts';

/**
 * The box office for staff (the admin panel's Events screens, docs/admin.md): event search with sales
 * totals, an event's sales per zone, its whole seat map in a compact form, the bookings lookup and a refund.
 * Staff session cookie or Bearer token (`requirePermission`), unlike the buyers' HTTP Basic API.
 */

const unauthenticated = { 401: errorResponse('No valid Bearer token or admin panel session') };
const forbidden = { 403: errorResponse('The caller lacks the permission') };
const badInput = { 400: errorResponse('Bad parameters: the message says which and why') };
const tags = ['Admin: events'];

const Totals = Type.Object(SALES_TOTALS);

const EventItem = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  type: Type.String(),
  datetime_start: Type.String({ format: 'date-time' }),
  provider: Type.String(),
  totals: Type.Union([Type.Null(), Totals], {
    description: 'Null while the event has no seat map yet (it gets one the first time someone opens it)',
  }),
});

const EventInfo = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  type: Type.String(),
  provider: Type.String(),
  datetime_start: Type.String({ format: 'date-time' }),
});

const SeatMapBody = Type.Object({
  event_id: Type.Integer(),
  venue: Type.Union([Type.String(), Type.Null()]),
  capacity: Type.Integer({ description: 'Number of seats; `status` has one character per seat' }),
  first_seat_id: Type.Integer({ description: 'Seat ids are first_seat_id … first_seat_id + capacity − 1' }),
  zones: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'What `runs` refer to' }),
      zone_id: Type.Integer(),
      name: Type.String(),
      price: Type.String({ description: 'Decimal string' }),
      capacity: Type.Integer(),
    }),
  ),
  runs: Type.Array(Type.Integer(), {
    description:
      'Flat, 5 integers per run of seats (consecutive ids, one row and zone, numbers going up by one): ' +
      'seat index of the first (id − first_seat_id), row, zone index, first seat number, seat count. In seat id order.',
  }),
  status: Type.String({
    description:
      'One character per seat in id order: F free, R reserved (a live hold or a pending payment), S sold; as GET /api/seats shows them (an expired hold is F)',
  }),
  counts: Type.Object({ free: Type.Integer(), reserved: Type.Integer(), sold: Type.Integer() }),
  generated_at: Type.String({ format: 'date-time' }),
});

const BookingStatus = Type.Union([
  Type.Literal('created'),
  Type.Literal('pending_payment'),
  Type.Literal('paid'),
  Type.Literal('cancelled'),
  Type.Literal('refunded'),
]);

const StaffBooking = Type.Object({
  id: Type.Integer(),
  event_id: Type.Integer(),
  status: BookingStatus,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  buyer: Type.Object({ id: Type.Integer(), email: Type.Union([Type.String(), Type.Null()]) }),
  seats: Type.Array(
    Type.Object({
      id: Type.Integer(),
      row: Type.Integer(),
      number: Type.Integer(),
      zone: Type.String(),
    }),
    { description: 'The seats it holds now (a live hold, pending payment or sold)' },
  ),
  payment: Type.Union([
    Type.Null(),
    Type.Object({
      status: Type.String({
        description: 'The public payment status (as GET /api/bookings/{id}/payment-status)',
      }),
      state: Type.String({ description: 'The payments module’s internal state' }),
      amount: Type.String(),
      currency: Type.String(),
      payment_id: Type.Union([Type.String(), Type.Null()]),
      updated_at: Type.String({ format: 'date-time' }),
    }),
  ]),
  action: Type.Union([Type.Literal('refund'), Type.Literal('cancel'), Type.Null()], {
    description:
      'What POST /api/admin/bookings/{id}/refund would do: refund a paid booking, cancel an unpaid one',
  }),
});

const RefundResult = Type.Object({
  booking_id: Type.Integer(),
  previous_status: BookingStatus,
  status: BookingStatus,
  result: Type.Union([Type.Literal('refunded'), Type.Literal('refund_pending'), Type.Literal('cancelled')], {
    description:
      'refund_pending: the gateway’s answer is not known yet; the booking stays paid until reconciliation completes the refund',
  }),
});

/** Per platform, per event: the seat runs (maps never change once written). */
const runsCache = new WeakMap<Platform, Map<number, Promise<number[]>>>();
const RUNS_CACHED_EVENTS = 1000;

export async function staffBookingRoutes(
  app: HttpApp,
  platform: Platform,
  service: BookingService,
): Promise<void> {
  const read = requirePermission(platform, 'sales:read');
  const refund = requirePermission(platform, 'sales:refund');
  const { db } = platform;

  const totalsOf = async (eventId: number) => {
    // Only events that have a map: listing must not generate maps for every event shown.
    if (!(await service.seatMaps.existing(eventId))) return null;
    const { event_id: _id, ...totals } = await service.analytics(eventId);
    return totals;
  };

  app.get(
    '/api/admin/events',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'Search events with their sales totals (staff)',
        description:
          'The search of GET /api/events (Russian and English stemming, ranked; without `q`, the current events ' +
          'by start time), each with sold / reserved / free seats and revenue when it has a seat map.',
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: 200, description: 'Search text' })),
          page: Type.Integer({ minimum: 1, maximum: 500, default: 1 }),
          pageSize: Type.Integer({ minimum: 1, maximum: 20, default: 20 }),
        }),
        response: {
          200: Type.Object({
            page: Type.Integer(),
            pageSize: Type.Integer(),
            has_more: Type.Boolean({ description: 'The page is full: there may be a next one' }),
            events: Type.Array(EventItem),
          }),
          ...badInput,
          ...unauthenticated,
          ...forbidden,
          503: errorResponse('The search took too long, or the service is starting or stopping'),
        },
      },
    },
    async (request) => {
      const search = catalogSearchOf(platform);
      if (!search)
        throw new AppError('UNAVAILABLE', 503, 'the catalog search is not running in this process');
      const { q, page, pageSize } = request.query;
      const found = await searchEventsForStaff(search, { q: q?.trim() || undefined, page, pageSize });
      const events = await Promise.all(found.map(async (e) => ({ ...e, totals: await totalsOf(e.id) })));
      return { page, pageSize, has_more: found.length === pageSize, events };
    },
  );

  const eventParams = Type.Object({ id: positiveId('The event') });
  const notFound = { 404: errorResponse('No such event (BOOKING_EVENT_NOT_FOUND)') };

  app.get(
    '/api/admin/events/:id/sales',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'An event’s sales in total and per zone (staff)',
        description:
          'The figures of GET /api/analytics/zones (live: expired holds count as free; cached for ' +
          'BOOKING_ANALYTICS_CACHE_MS) with the event itself.',
        params: eventParams,
        response: {
          200: Type.Intersect([
            Type.Object({ event: EventInfo }),
            Totals,
            Type.Object({ event_id: Type.Integer(), zones: Type.Array(ZoneSales) }),
          ]),
          ...badInput,
          ...unauthenticated,
          ...forbidden,
          ...notFound,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const sales = await service.zoneAnalytics(id);
      const event = await service.seatMaps.event(id);
      if (!event) throw BookingErrors.eventNotFound(id);
      reply.header('cache-control', 'no-store');
      return {
        event: {
          id: event.id,
          title: event.title,
          type: event.type,
          provider: event.provider,
          datetime_start: event.datetimeStart.toISOString(),
        },
        ...sales,
      };
    },
  );

  const runsOf = (
    eventId: number,
    firstSeatId: number,
    lastSeatId: number,
    zoneIndex: Map<number, number>,
  ) => {
    let perEvent = runsCache.get(platform);
    if (!perEvent) {
      perEvent = new Map();
      runsCache.set(platform, perEvent);
    }
    let runs = perEvent.get(eventId);
    if (!runs) {
      if (perEvent.size >= RUNS_CACHED_EVENTS) perEvent.clear();
      runs = seatRuns(db, firstSeatId, lastSeatId).then((rows) => {
        const flat: number[] = [];
        for (const r of rows) {
          flat.push(
            Number(r.first_id) - firstSeatId,
            r.row_no,
            zoneIndex.get(Number(r.zone_id)) ?? 0,
            r.first_number,
            r.n,
          );
        }
        return flat;
      });
      runs.catch(() => perEvent.delete(eventId));
      perEvent.set(eventId, runs);
    }
    return runs;
  };

  app.get(
    '/api/admin/events/:id/seat-map',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'An event’s whole seat map with live statuses, compact (staff)',
        description:
          'Every seat of the event in one answer, for drawing: the layout as runs of seats (cached per process, ' +
          'maps never change) and one status character per seat, read live (a primary-key range over the ' +
          'event’s held seats). 100,000 seats: about 118 KB of JSON (5 KB gzip for a regular pattern; more for a random one).',
        params: eventParams,
        response: { 200: SeatMapBody, ...badInput, ...unauthenticated, ...forbidden, ...notFound },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // As GET /api/seats: an event that has not started gets its map on first use.
      const map = await service.seatMaps.forEvent(id);
      if (!map && !(await service.seatMaps.event(id))) throw BookingErrors.eventNotFound(id);
      reply.header('cache-control', 'no-store');
      const generatedAt = new Date().toISOString();
      if (!map) {
        return {
          event_id: id,
          venue: null,
          capacity: 0,
          first_seat_id: 0,
          zones: [],
          runs: [],
          status: '',
          counts: { free: 0, reserved: 0, sold: 0 },
          generated_at: generatedAt,
        };
      }
      const zoneIndex = new Map(map.zones.map((z, i) => [z.id, i]));
      const [runs, live] = await Promise.all([
        runsOf(id, map.firstSeatId, map.lastSeatId, zoneIndex),
        liveSeatStates(db, map.firstSeatId, map.lastSeatId),
      ]);
      const status = Buffer.alloc(map.capacity, 'F');
      let sold = 0;
      for (const seat of live) {
        status[Number(seat.seat_id) - map.firstSeatId] = seat.sold ? 0x53 : 0x52;
        if (seat.sold) sold++;
      }
      return {
        event_id: id,
        venue: map.name,
        capacity: map.capacity,
        first_seat_id: map.firstSeatId,
        zones: map.zones.map((z, index) => ({
          index,
          zone_id: z.id,
          name: z.name,
          price: z.price,
          capacity: z.capacity,
        })),
        runs,
        status: status.toString('latin1'),
        counts: { free: map.capacity - live.length, reserved: live.length - sold, sold },
        generated_at: generatedAt,
      };
    },
  );

  app.get(
    '/api/admin/bookings',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'Look bookings up by event, booking id or buyer (staff)',
        description:
          'Bookings matching every filter given, newest first, with the seats they hold now, the buyer and the ' +
          'latest payment. `user` is a user id or an email (an unknown email matches nothing).',
        querystring: Type.Object({
          event_id: Type.Optional(positiveId('The event')),
          booking_id: Type.Optional(positiveId('The booking')),
          user: Type.Optional(Type.String({ minLength: 1, maxLength: 254, description: 'User id or email' })),
          page: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
          pageSize: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
        }),
        response: {
          200: Type.Object({
            page: Type.Integer(),
            pageSize: Type.Integer(),
            has_more: Type.Boolean(),
            bookings: Type.Array(StaffBooking),
          }),
          ...badInput,
          ...unauthenticated,
          ...forbidden,
        },
      },
    },
    async (request, reply) => {
      const { event_id, booking_id, page, pageSize } = request.query;
      reply.header('cache-control', 'no-store');
      let userId: number | undefined;
      const user = request.query.user?.trim();
      if (user) {
        if (/^\d+$/.test(user)) {
          userId = Number(user);
          if (!Number.isSafeInteger(userId) || userId < 1) {
            throw new AppError('VALIDATION_FAILED', 400, 'querystring/user must be a user id or an email', {
              field: 'user',
            });
          }
        } else {
          userId = await userIdByEmail(db, user);
          if (userId === undefined) return { page, pageSize, has_more: false, bookings: [] };
        }
      }
      const rows = await findStaffBookings(
        db,
        { eventId: event_id, bookingId: booking_id, userId },
        pageSize,
        (page - 1) * pageSize,
      );
      const seatIds = rows.flatMap((r) => r.seats.map(Number));
      const [emails, labels] = await Promise.all([
        userEmails(db, [...new Set(rows.map((r) => Number(r.user_id)))]),
        seatLabels(db, seatIds),
      ]);
      const labelOf = new Map(labels.map((l) => [l.seatId, l]));
      const payments = paymentsServiceOf(platform);
      const bookings = await Promise.all(
        rows.map(async (r) => {
          const buyer = { id: Number(r.user_id), email: emails.get(Number(r.user_id)) ?? null };
          const story = payments
            ? await payments.statusOf({ id: buyer.id, email: buyer.email ?? '' }, Number(r.id))
            : undefined;
          const p = story?.payment;
          return {
            id: Number(r.id),
            event_id: Number(r.event_id),
            status: r.status,
            created_at: r.created_at.toISOString(),
            updated_at: r.updated_at.toISOString(),
            buyer,
            seats: r.seats.map((s) => {
              const label = labelOf.get(Number(s));
              return {
                id: Number(s),
                row: label?.row ?? 0,
                number: label?.number ?? 0,
                zone: label?.zone ?? '',
              };
            }),
            payment: p
              ? {
                  status: p.status,
                  state: p.state,
                  amount: p.amount,
                  currency: p.currency,
                  payment_id: p.payment_id,
                  updated_at: p.updated_at,
                }
              : null,
            action: actionFor(r.status),
          };
        }),
      );
      return { page, pageSize, has_more: rows.length === pageSize, bookings };
    },
  );

  app.post(
    '/api/admin/bookings/:id/refund',
    {
      preValidation: refund,
      schema: {
        tags,
        summary: 'Refund a paid booking, or cancel an unpaid one (admin)',
        description:
          'The buyer’s own cancellation flow, done for them: a paid booking is refunded through the gateway ' +
          '(up to 12 hours before the event; 409 BOOKING_REFUND_CLOSED after), an unpaid one (created or ' +
          'pending payment) is cancelled and its seats freed, its payment given back. Audited with the staff ' +
          'member as actor (action booking.refund / booking.cancel). 409 BOOKING_NOT_CANCELLABLE when the ' +
          'booking is already cancelled or refunded. 202 when the gateway’s answer is still unknown.',
        params: Type.Object({ id: positiveId('The booking') }),
        response: {
          200: RefundResult,
          202: RefundResult,
          ...badInput,
          ...unauthenticated,
          ...forbidden,
          404: errorResponse('No such booking (BOOKING_NOT_FOUND)'),
          409: errorResponse('Already cancelled or refunded; refunds closed; the payment cannot be refunded'),
          503: errorResponse('BOOKING_BUSY (retry), the gateway is unavailable, or shutting down'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const actor = auditFromPrincipal(request.principal!);
      const booking = await findBooking(db, id);
      if (!booking) throw BookingErrors.bookingNotFound(id);
      const action = actionFor(booking.status);
      const audit = (result: 'success' | 'failure', extra: Record<string, unknown>, reason?: string) =>
        appendAudit(db, {
          ...actor,
          action: action === 'refund' ? 'booking.refund' : 'booking.cancel',
          resource: `booking:${id}`,
          result,
          ...(reason ? { reason } : {}),
          metadata: {
            event_id: booking.eventId,
            user_id: booking.userId,
            previous_status: booking.status,
            ...extra,
          },
        });
      if (!action) {
        await audit('failure', {}, `already ${booking.status}`);
        throw new AppError(
          'BOOKING_NOT_CANCELLABLE',
          409,
          `booking ${id} is already ${booking.status}: there is nothing to refund or cancel`,
        );
      }
      let outcome: 'done' | 'pending';
      try {
        // The owner's own cancel, on the owner's behalf: the same locks, payment port and outbox events.
        outcome = await service.cancelBooking({ id: booking.userId, email: '' }, id);
      } catch (error) {
        if (error instanceof AppError && error.statusCode < 500) await audit('failure', {}, error.code);
        throw error;
      }
      const after = await findBooking(db, id);
      const result = action === 'cancel' ? 'cancelled' : outcome === 'done' ? 'refunded' : 'refund_pending';
      await audit('success', { result, status: after?.status ?? null });
      return reply.code(result === 'refund_pending' ? 202 : 200).send({
        booking_id: id,
        previous_status: booking.status,
        status: after?.status ?? booking.status,
        result,
      });
    },
  );
}

function actionFor(status: string): 'refund' | 'cancel' | null {
  if (status === 'paid') return 'refund';
  if (status === 'created' || status === 'pending_payment') return 'cancel';
  return null;
}
