import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';

export const OUTBOX_CHANNEL = 'boxoffice_outbox';
/** Held for the length of one sequencing transaction: at most one sequencer works at a time. */
const SEQUENCER_LOCK_KEY = 0x626f78_02;

/**
 * Gives newly visible outbox rows consecutive positions, in id order. Rows of a transaction that
 * commits late get later positions, so a consumer reading positions in order never skips one.
 * Returns how many rows were sequenced (0 when another process holds the sequencer lock).
 */
export async function sequenceOnce(db: Sql, batchSize = 5000): Promise<number> {
  return db.begin(async (tx) => {
    const [lock] = await tx<
      { locked: boolean }[]
    >`select pg_try_advisory_xact_lock(${SEQUENCER_LOCK_KEY}) as locked`;
    if (!lock?.locked) return 0;
    const rows = await tx`
      with batch as (
        select id, row_number() over (order by id) as n
        from (select id from outbox_events where position is null order by id limit ${batchSize}) unsequenced
      )
      update outbox_events e
      set position = (select coalesce(max(position), 0) from outbox_events) + batch.n
      from batch
      where e.id = batch.id
      returning e.position`;
    // Delivered at commit, so consumers woken by it see the new positions.
    if (rows.length > 0) await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`;
    return rows.length;
  });
}

export interface Loop {
  stop(): Promise<void>;
  wake(): void;
}

/**
 * Runs `step` until stopped: again at once while it reports work, else after `idleMs` or a wake().
 * Failures are logged and retried with a growing pause, never thrown.
 */
export function startLoop(
  name: string,
  step: () => Promise<number>,
  options: { idleMs: number; logger: Logger },
): Loop {
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let failures = 0;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });
  const running = (async () => {
    while (!stopped) {
      try {
        const worked = await step();
        failures = 0;
        if (worked === 0 && !stopped) await pause(options.idleMs);
      } catch (error) {
        if (stopped) break;
        failures++;
        options.logger.error({ err: error, loop: name, failures }, 'outbox loop failed; retrying');
        await pause(Math.min(30_000, options.idleMs * 2 ** failures));
      }
    }
  })();
  return {
    wake: () => wakeUp?.(),
    async stop() {
      stopped = true;
      wakeUp?.();
      await running;
    },
  };
}
