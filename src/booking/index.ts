import type { preValidationAsyncHookHandler } from 'fastify';
import { basicAuth } from '../identity/index.ts';
import type { BoxofficeModule, Platform } from '../platform/context.ts';
import type { Sql } from '../platform/db/client.ts';
import { GroupCommitter } from '../platform/db/group-commit.ts';
import { type HoldOutcome, holdWriter, TakenSeats } from './holds.ts';
import { bookingRoutes } from './routes.ts';
import { SeatAvailability } from './seating/availability.ts';
import type { VenueLayout } from './seating/layout.ts';
import { SeatMaps } from './seating/seat-maps.ts';
import { hasSeatMaps, insertSeatMap } from './seating/store.ts';
import { seedBooking } from './seed.ts';
import { BookingService, type BookingSettings } from './service.ts';
import { staffBookingRoutes } from './staff-routes.ts';
import * as store from './store.ts';
import { SWEEP_SCHEDULE, SWEEP_TASK, sweepExpiredHolds } from './sweeper.ts';

export { BookingErrors } from './errors.ts';
export type {
  BookingCancelledPayload,
  BookingCreatedPayload,
  BookingStatusPayload,
  SeatReleasedPayload,
  SeatSelectedPayload,
} from './events.ts';
export { BookingTopics } from './events.ts';
export {
  beginPayment,
  confirmPayment,
  failPayment,
  type PaymentSubject,
  REFUND_CLOSES_HOURS,
  refundBooking,
  refundOpen,
  reopenBooking,
  type SecureRefusal,
  securePayment,
} from './payment-states.ts';
export { SALES_TOTALS, ZoneSales } from './sales-schemas.ts';
export {
  eventOfSeat,
  firstSeatId,
  layoutFor,
  SEAT_ID_SPACE,
  STADIUM,
  type VenueLayout,
  type ZoneLayout,
} from './seating/layout.ts';
export { type SeatLabel, seatLabels } from './seating/store.ts';
export type { BookingPaymentsPort, BookingService } from './service.ts';
export { sweepExpiredHolds } from './sweeper.ts';

/**
 * Gives `eventId` the seat map `layout` unless it has one (tests, tools, a venue's import). Returns whether
 * this call wrote it. Call it before the event's seats are first used: a map is generated then.
 */
export async function createSeatMap(db: Sql, eventId: number, layout: VenueLayout): Promise<boolean> {
  return db.begin((tx) => insertSeatMap(tx, eventId, layout));
}

/** Per running platform (tests run several in one process). */
const running = new WeakMap<Platform, BookingService>();

/** The booking service of a running platform (`start`/`api` roles), for tests and other modules. */
export function bookingServiceOf(platform: Platform): BookingService | undefined {
  return running.get(platform);
}

/** Reads the module's settings from the configuration (the BOOKING_* block). */
export function bookingSettings(platform: Platform): BookingSettings {
  const { config } = platform;
  const reset = config.BOOKING_RESET_ENABLED;
  return {
    holdMs: config.BOOKING_HOLD_SECONDS * 1000,
    maxSeatsPerUser: config.BOOKING_MAX_SEATS_PER_USER,
    lockTimeoutMs: config.BOOKING_LOCK_TIMEOUT_MS,
    analyticsCacheMs: config.BOOKING_ANALYTICS_CACHE_MS,
    resetEnabled: reset === 'auto' ? config.NODE_ENV !== 'production' : reset === 'true',
  };
}

/**
 * Seat maps, bookings and seat holds (docs/booking.md): the Biletter API's seats, bookings, analytics and
 * reset routes; holds group-committed to PostgreSQL; an expired-hold sweeper (cron, every minute).
 */
export const bookingModule: BoxofficeModule = {
  name: 'booking',

  async start(platform) {
    const logger = platform.logger.child({ module: 'booking' });
    const settings = bookingSettings(platform);
    const { config, db } = platform;
    const holds = new GroupCommitter<store.HoldRequest, HoldOutcome>({
      db,
      name: 'booking-holds',
      logger,
      // The writer sends its own transaction in one round trip (pipelinedTransaction).
      transaction: false,
      write: holdWriter({
        holdMs: settings.holdMs,
        maxSeatsPerUser: settings.maxSeatsPerUser,
        lockTimeoutMs: settings.lockTimeoutMs,
      }),
      maxBatch: config.BOOKING_BATCH_MAX_ROWS,
      concurrency: config.BOOKING_BATCH_CONCURRENCY,
    });
    const creates = new GroupCommitter<store.NewBooking, number>({
      db,
      name: 'booking-creates',
      logger,
      // One statement (the bookings and their events) in autocommit: one round trip per batch.
      transaction: false,
      write: async (db, items) => {
        const rows = await store.insertBookings(db, items);
        rows.forEach((row, i) => {
          const item = items[i]!;
          if (row.eventId !== item.eventId || row.userId !== item.userId) {
            throw new Error('booking-creates: RETURNING rows came back out of insertion order');
          }
        });
        return rows.map((r) => r.id);
      },
      maxBatch: config.BOOKING_BATCH_MAX_ROWS,
      concurrency: config.BOOKING_BATCH_CONCURRENCY,
    });
    const availability = new SeatAvailability(db, logger, {
      maxBytes: config.BOOKING_SEAT_INDEX_MB * 1024 * 1024,
      syncTimeoutMs: 2000,
      heartbeatMs: 5000,
      registry: platform.metrics,
    });
    const service = new BookingService({
      db,
      availability,
      cache: platform.cache,
      logger,
      seatMaps: new SeatMaps(db, logger),
      holds,
      creates,
      taken: new TakenSeats(platform.cache, config.BOOKING_TAKEN_CACHE_MS, logger),
      settings,
    });
    running.set(platform, service);
    return {
      async stop() {
        // The HTTP server has stopped accepting by now; whatever is queued is committed before the pool closes.
        await Promise.all([holds.stop(), creates.stop()]);
        await availability.stop();
        running.delete(platform);
      },
    };
  },

  async routes(app, platform) {
    const service = running.get(platform);
    if (!service) throw new Error('booking: the module must be started before its routes are registered');
    await bookingRoutes(app, service, basicAuth(platform) as unknown as preValidationAsyncHookHandler);
    await staffBookingRoutes(app, platform, service);
  },

  tasks: (platform) => ({
    [SWEEP_TASK]: async () => {
      await sweepExpiredHolds(platform.db, platform.logger.child({ module: 'booking' }));
    },
  }),

  cron: [{ pattern: '* * * * *', task: SWEEP_TASK, identifier: SWEEP_SCHEDULE }],

  seed: seedBooking,

  hasData: hasSeatMaps,
};
