import type { Platform } from '../platform/context.ts';
import { ensurePartition } from './queue.ts';

/** Partitions made ahead of time (today and the next days), so enqueueing never waits on DDL. */
const DAYS_AHEAD = 3;

function utcDay(at: Date, offsetDays: number): string {
  return new Date(at.getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Hourly upkeep (and at start): the deliveries partitions of the coming days, the old ones dropped whole
 * after NOTIFY_RETENTION_DAYS (the analytics counters keep their figures), and idempotency keys past 24 h.
 */
export async function maintainPartitions(platform: Platform, now: Date = new Date()): Promise<void> {
  const { db, config, logger } = platform;
  for (let day = 0; day <= DAYS_AHEAD; day++) await ensurePartition(db, utcDay(now, day));
  const oldest = utcDay(now, -config.NOTIFY_RETENTION_DAYS);
  const old = await db<{ name: string }[]>`
    select c.relname as name
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent
    where p.relname = 'notify_deliveries' and c.relname ~ '^notify_deliveries_[0-9]{8}$'
      and c.relname < ${`notify_deliveries_${oldest.replaceAll('-', '')}`}`;
  for (const { name } of old) {
    // The name matched notify_deliveries_YYYYMMDD above, so quoting it is all it needs.
    await db.unsafe(`drop table if exists "${name}"`);
    logger.info({ partition: name }, 'notify: dropped a deliveries partition past retention');
  }
  await db`delete from notify_idempotency where created_at < now() - interval '24 hours'`;
}
