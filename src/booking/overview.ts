import type { Queryable } from '../platform/db/client.ts';

/** How many of the newest bookings `recentEventIds` looks at (a backward scan of the primary key). */
const RECENT_BOOKINGS = 2000;

/**
 * The events with the most recent booking activity, newest first (the admin dashboard's default when no
 * event is chosen): the events of the newest `RECENT_BOOKINGS` bookings, else the first events with a seat
 * map. Read-only and cheap (two index scans, bounded).
 */
export async function recentEventIds(db: Queryable, limit: number): Promise<number[]> {
  const recent = await db<{ event_id: string }[]>`
    select event_id::text from (
      select event_id, id from bookings order by id desc limit ${RECENT_BOOKINGS}
    ) b
    group by event_id order by max(id) desc limit ${limit}`;
  if (recent.length > 0) return recent.map((r) => Number(r.event_id));
  const mapped = await db<{ event_id: string }[]>`
    select event_id::text from venues order by event_id limit ${limit}`;
  return mapped.map((r) => Number(r.event_id));
}
