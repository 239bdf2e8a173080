import postgres from 'postgres';
import type { BoxofficeModule, Platform } from '../platform/context.ts';
import { applicationName } from '../platform/db/client.ts';
import { importCatalog } from './import/import.ts';
import { catalogRoutes } from './routes.ts';
import { CatalogSearch } from './search.ts';
import { seedCatalog } from './seed/seed.ts';
import * as store from './store.ts';

export { CatalogTopics, type EventPayload } from './events.ts';
export type { CatalogSearch } from './search.ts';
export { createEvent, type EventChanges, type NewEvent, updateEvent } from './service.ts';
export { type FoundEvent, searchEventsForStaff } from './staff-search.ts';
export type { EventRow, EventSummary } from './types.ts';

/** The search service of a running platform (set when the catalog's routes are registered), for staff routes. */
const searches = new WeakMap<Platform, CatalogSearch>();
export function catalogSearchOf(platform: Platform): CatalogSearch | undefined {
  return searches.get(platform);
}

/** The event `id` for other modules (booking: the event's start for the 12-hour refund rule), or undefined. */
export const getEvent = store.getEvent;

/** Channel the catalog table's trigger NOTIFYs on every change (migrations/0020_catalog.sql). */
const CHANGES_CHANNEL = 'catalog_events_changed';

/**
 * The events catalog (docs/catalog.md): the partitioned events table with its full-text index, the
 * events API, the generator behind `boxoffice seed` and the loader behind `boxoffice import`.
 */
export const catalogModule: BoxofficeModule = {
  name: 'catalog',
  seed: async (context, profile) => {
    await seedCatalog(context, profile);
  },
  import: importCatalog,
  hasData: store.hasEvents,
  async routes(app, platform) {
    const search = await startSearch(platform);
    searches.set(platform, search.service);
    app.addHook('onClose', async () => {
      searches.delete(platform);
      await search.stop();
    });
    await catalogRoutes(app, search.service);
  },
};

/**
 * The search service with its own small pool: a statement timeout bounds any search, and a search storm
 * cannot take the connections other modules need. Listens for catalog changes to drop cached results.
 */
async function startSearch(platform: Platform): Promise<{ service: CatalogSearch; stop(): Promise<void> }> {
  const { config, logger } = platform;
  const log = logger.child({ module: 'catalog' });
  const db = postgres(platform.databaseUrl, {
    max: config.CATALOG_DB_POOL_MAX,
    connect_timeout: config.DB_CONNECT_TIMEOUT_SECONDS,
    idle_timeout: 60,
    prepare: true,
    connection: {
      application_name: `${applicationName()}:catalog`,
      statement_timeout: config.CATALOG_SEARCH_TIMEOUT_MS,
      // Plans for each query's words and dates: see store.searchSql.
      plan_cache_mode: 'force_custom_plan',
    },
    onnotice: () => {},
  });
  try {
    const [database] = await db<{ name: string }[]>`select current_database() as name`;
    const service = new CatalogSearch({
      db,
      cache: platform.cache,
      logger: log,
      cacheEnabled: config.CATALOG_CACHE_ENABLED,
      cacheTtlMs: config.CATALOG_CACHE_TTL_SECONDS * 1000,
      localEntries: config.CATALOG_LOCAL_CACHE_ENTRIES,
      candidates: config.CATALOG_SEARCH_CANDIDATES,
      scope: database!.name,
    });
    // Also called on every (re)connection of the listener: changes may have been missed meanwhile, and a
    // shared cache may hold results from before a seed that ran while no API process was listening.
    const listener = await platform.db.listen(
      CHANGES_CHANNEL,
      () => service.invalidate(),
      () => service.invalidate(),
    );
    const unindexed = await store.partitionsWithoutSearchIndex(platform.db);
    if (unindexed.length > 0) {
      log.error(
        { partitions: unindexed },
        'catalog: part of the search index is missing (an interrupted bulk load?): run boxoffice seed or import',
      );
    }
    return {
      service,
      async stop() {
        await listener.unlisten().catch(() => {});
        await db.end({ timeout: 5 });
      },
    };
  } catch (error) {
    await db.end({ timeout: 1 });
    throw error;
  }
}
