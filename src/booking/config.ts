import { Type } from 'typebox';
import { defineConfigSection } from '../platform/config/section.ts';

/** The booking section of the configuration (see docs/booking.md). */
export const bookingConfig = defineConfigSection({
  name: 'booking',
  title: 'Booking: seat maps, bookings and seat holds',
  variables: {
    BOOKING_HOLD_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 300,
      description: 'How long PATCH /api/seats/select holds a seat; an expired hold is a free seat at once.',
    }),
    BOOKING_MAX_SEATS_PER_USER: Type.Integer({
      minimum: 1,
      maximum: 100000,
      default: 10,
      description: 'Most seats one user may hold or buy per event (live holds, pending payments and sales).',
    }),
    BOOKING_RESET_ENABLED: Type.Union([Type.Literal('auto'), Type.Literal('true'), Type.Literal('false')], {
      default: 'auto',
      description:
        'POST /api/reset (removes every booking and hold): auto = enabled unless NODE_ENV=production; true | false.',
    }),
    BOOKING_LOCK_TIMEOUT_MS: Type.Integer({
      minimum: 10,
      maximum: 60000,
      default: 3000,
      description: 'Longest wait for a booking or seat lock before the request is answered 503 BOOKING_BUSY.',
    }),
    BOOKING_BATCH_MAX_ROWS: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 500,
      description: 'Most seat holds (or new bookings) group-committed in one transaction.',
    }),
    BOOKING_BATCH_CONCURRENCY: Type.Integer({
      minimum: 1,
      maximum: 16,
      default: 2,
      description: 'Hold (and booking) batches being committed at once, each on its own connection.',
    }),
    BOOKING_TAKEN_CACHE_MS: Type.Integer({
      minimum: 0,
      maximum: 60000,
      default: 2000,
      description:
        'How long a seat seen taken is refused from the shared cache without asking PostgreSQL (never past its hold). 0 = off.',
    }),
    BOOKING_SEAT_INDEX_MB: Type.Integer({
      minimum: 0,
      maximum: 65536,
      default: 256,
      description:
        'Memory for the in-memory seat index that answers GET /api/seats (about 1.7 MB per 100,000 seats; the least recently listed event goes first). 0 = listings from PostgreSQL.',
    }),
    BOOKING_ANALYTICS_CACHE_MS: Type.Integer({
      minimum: 0,
      maximum: 60000,
      default: 1000,
      description: 'How long GET /api/analytics answers are cached (0 = computed on every request).',
    }),
  },
});
