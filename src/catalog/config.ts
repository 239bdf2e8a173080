import { Type } from 'typebox';
import { Bool, defineConfigSection } from '../platform/config/section.ts';

/** The catalog section of the configuration (see docs/catalog.md). */
export const catalogConfig = defineConfigSection({
  name: 'catalog',
  title: 'Catalog: event listings and search',
  variables: {
    CATALOG_CACHE_ENABLED: Bool(
      true,
      'Cache event listings and searches (the shared cache, plus an in-process copy); every event change drops them. false: every request queries PostgreSQL (to measure uncached search).',
    ),
    CATALOG_CACHE_TTL_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 60,
      description:
        'Longest a cached event page lives; changes invalidate at once, the TTL bounds how long the "current events" window lags the clock.',
    }),
    CATALOG_LOCAL_CACHE_ENTRIES: Type.Integer({
      minimum: 0,
      maximum: 1000000,
      default: 10000,
      description: 'Event pages each API process keeps in memory in front of the shared cache (0: none).',
    }),
    CATALOG_SEARCH_CANDIDATES: Type.Integer({
      minimum: 20,
      maximum: 100000,
      default: 300,
      description:
        'Matches ranked together per block, newest first: bounds the cost of frequent words (see docs/catalog.md, Ranking).',
    }),
    CATALOG_SEARCH_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      maximum: 600000,
      default: 5000,
      description:
        'Statement timeout of an event search; beyond it the API answers 503 CATALOG_SEARCH_TIMEOUT.',
    }),
    CATALOG_DB_POOL_MAX: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 4,
      description: 'Connections of the event search pool per API process (apart from DB_POOL_MAX).',
    }),
  },
});
