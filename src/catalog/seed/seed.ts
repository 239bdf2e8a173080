import type { SeedContext, SeedProfile } from '../../platform/seeding.ts';
import { EventLoader, withBulkLoad } from '../bulk-load.ts';
import * as store from '../store.ts';
import {
  BLOCK_SIZE,
  type BlockSpec,
  blockCount,
  blockIds,
  firstId,
  generateBlock,
  type Kind,
} from './generator.ts';

const DAY_MS = 86_400_000;

export interface CatalogSeedOptions {
  /** Start of the UTC day current events count from; default today. Tests pin it. */
  anchorMs?: number;
  /** Batches loaded at once (connections). Default 2. */
  parallel?: number;
  /** Loads of at least this many rows rebuild the search index afterwards (default REBUILD_INDEX_MIN_ROWS). */
  rebuildIndexMinRows?: number;
}

/**
 * `boxoffice seed` for the catalog: `profile.currentEvents` current events (ids from 1, event 1 the
 * stadium concert) and `profile.archiveEvents` archive events (ids from 100,000), generated block by
 * block. Blocks already complete are skipped, so a re-run adds nothing and an interrupted run resumes.
 * Writes bypass the outbox (nobody needs an event per generated row); the table trigger still tells
 * the API processes to drop cached results.
 */
export async function seedCatalog(
  context: SeedContext,
  profile: SeedProfile,
  options: CatalogSeedOptions = {},
): Promise<number> {
  const { db, logger } = context;
  const anchorMs = options.anchorMs ?? Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const plan: { spec: BlockSpec; existing: number; size: number }[] = [];
  for (const [kind, total] of [
    ['current', profile.currentEvents],
    ['archive', profile.archiveEvents],
  ] as [Kind, number][]) {
    if (total <= 0) continue;
    const first = firstId(kind);
    const counts = await store.countByBlock(db, first, first + total - 1, BLOCK_SIZE);
    for (let block = 0; block < blockCount(total); block++) {
      const [low, high] = blockIds({ kind, block, total });
      const size = high - low + 1;
      const existing = counts.get(block) ?? 0;
      if (existing < size)
        plan.push({ spec: { kind, seed: profile.seed, block, total, anchorMs }, existing, size });
    }
  }
  const missing = plan.reduce((sum, item) => sum + item.size - item.existing, 0);
  if (missing === 0) {
    logger.info('catalog: every seeded event is there already');
    return 0;
  }

  const inserted = await withBulkLoad(
    db,
    logger,
    missing,
    async () => {
      const planned = plan.reduce((sum, item) => sum + item.size, 0);
      const progress = context.progress('catalog events', planned);
      const loader = new EventLoader({ db, logger, parallel: options.parallel ?? 2, progress });
      for (const item of plan) {
        await loader.write(generateBlock(item.spec), item.existing === 0 ? 'new' : 'merge');
      }
      const count = await loader.finish();
      progress.done();
      return count;
    },
    options.rebuildIndexMinRows,
  );
  logger.info({ inserted, seed: profile.seed }, 'catalog: events seeded');
  return inserted;
}
