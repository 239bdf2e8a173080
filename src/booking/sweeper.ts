import type { Logger } from 'pino';
import type { Sql } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import * as events from './events.ts';
import { deleteExpiredHolds } from './store.ts';

export const SWEEP_TASK = 'booking:sweep_expired_holds';
/** The cron schedule's name (graphile-worker allows no ':' there). */
export const SWEEP_SCHEDULE = 'booking_sweep_expired_holds';
const BATCH = 1000;

/**
 * Tidies expired holds: deletes their rows and announces each as `seat.released` (reason `expired`). Not
 * needed for correctness (an expired hold is a free seat the moment it expires, and the next hold replaces
 * it in place); it keeps `booking_seats` small and tells consumers. Runs every minute (cron, worker role).
 * Returns how many holds it removed.
 */
export async function sweepExpiredHolds(db: Sql, logger: Logger): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await db.begin(async (tx) => {
      const rows = await deleteExpiredHolds(tx, BATCH);
      if (rows.length > 0) {
        await publish(
          tx,
          ...rows.map((r) =>
            events.seatReleased({
              seatId: Number(r.seat_id),
              bookingId: Number(r.booking_id),
              eventId: Number(r.event_id),
              userId: Number(r.user_id),
              reason: 'expired',
            }),
          ),
        );
      }
      return rows.length;
    });
    total += removed;
    if (removed < BATCH) break;
  }
  if (total > 0) logger.info({ removed: total }, 'booking: expired holds swept');
  return total;
}
