import { getEvent } from '../catalog/index.ts';
import type { SeedContext, SeedProfile } from '../platform/seeding.ts';
import { capacityOf, layoutFor } from './seating/layout.ts';
import { SEATMAP_SEED_KEY } from './seating/seat-maps.ts';
import { analyzeSeatMaps, countSeats, findSeatMap, initSetting, insertSeatMap } from './seating/store.ts';

/**
 * `boxoffice seed` (and the first start's demo data): the stadium of event 1, 100,000 seats, in one
 * transaction (all or nothing, so a re-run either finds it complete or writes it whole). Other events' maps
 * are generated lazily on first use (docs/booking.md, "Seat maps"), from the seed recorded here.
 */
export async function seedBooking(context: SeedContext, profile: SeedProfile): Promise<void> {
  const { db, logger } = context;
  const seed = await initSetting(db, SEATMAP_SEED_KEY, String(profile.seed));
  if (seed !== String(profile.seed)) {
    logger.warn(
      { recorded: seed, profile: profile.seed },
      'booking: seat maps already derive from another seed; keeping it so existing and new maps agree',
    );
  }
  const event = await getEvent(db, 1);
  if (!event) {
    logger.warn('booking: the catalog has no event 1, so there is no stadium to seat');
    return;
  }
  const existing = await findSeatMap(db, 1);
  if (existing) {
    logger.info({ seats: await countSeats(db, 1) }, 'booking: event 1 already has its seat map');
    return;
  }
  const layout = layoutFor(Number(seed), 1, event.type);
  const progress = context.progress('seats of event 1', capacityOf(layout));
  await db.begin((tx) => insertSeatMap(tx, 1, layout, (n) => progress.tick(n)));
  await analyzeSeatMaps(db);
  progress.done();
}
