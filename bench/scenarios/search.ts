import { seededUserCredentials } from '../../src/identity/index.ts';
import type { Scenario } from '../lib/scenario.ts';

/** The phrases of the organizers' search load test (specs/hackload-data.md, docs/catalog.md). */
export const PHRASES = [
  'концерт',
  'Дмитрий Козлов',
  'азарт',
  'Чемпионат',
  'Красная шапочка',
  'Экспозиция "Звездные войны"',
];
const DATE = '2024-12-25';

/** Seeded buyers to sign in with (each costs one slow hash per server process, in setup). */
const USERS = Number(process.env.BENCH_SEARCH_USERS ?? 100);
/** The seed of the profile the server was seeded with (`boxoffice seed`; the full profile uses 1). */
const SEED = Number(process.env.BENCH_SEARCH_SEED ?? 1);
/**
 * `phrases` (default): the 6 phrases, with and without date=2024-12-25: 12 distinct requests, cached after
 * the first of each unless the server runs with CATALOG_CACHE_ENABLED=false.
 * `distinct`: the phrases over random days of 2015-2024 and pages 1-5: 2,000 distinct requests, mostly
 * cache misses on a warm cache too.
 */
const MODE = process.env.BENCH_SEARCH_MODE ?? 'phrases';

interface Data {
  auths: string[];
  paths: string[];
}

const random = (n: number) => Math.floor(Math.random() * n);

function searchPaths(mode: string): string[] {
  const path = (params: Record<string, string>) => `/api/events?${new URLSearchParams(params).toString()}`;
  if (mode === 'phrases') {
    return PHRASES.flatMap((query) => [path({ query }), path({ query, date: DATE })]);
  }
  if (mode !== 'distinct') throw new Error(`BENCH_SEARCH_MODE must be phrases or distinct, not "${mode}"`);
  // Deterministic, so runs compare: a small LCG.
  let state = 42;
  const next = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
  const paths = new Set<string>();
  const first = Date.UTC(2015, 0, 1);
  while (paths.size < 2_000) {
    const day = new Date(first + next(3_653) * 86_400_000).toISOString().slice(0, 10);
    const query = PHRASES[next(PHRASES.length)]!;
    paths.add(next(3) === 0 ? path({ query, page: String(1 + next(5)) }) : path({ query, date: day }));
  }
  return [...paths];
}

/**
 * Event search as the organizers' load test drives it: GET /api/events?query=… [&date=2024-12-25], signed
 * in with HTTP Basic as random seeded users. Run against a server seeded with the full profile
 * (`boxoffice seed --profile full`: 6,000,000 archive events); see docs/performance.md for the commands.
 */
const search: Scenario = {
  name: 'search',
  description: 'GET /api/events?query=<phrase>[&date=2024-12-25], Basic Auth, random seeded users',
  async setup({ baseUrl }) {
    const auths: string[] = [];
    for (let id = 1; auths.length < USERS && id <= USERS * 3; id++) {
      const user = seededUserCredentials(SEED, id);
      if (user.active) auths.push(Buffer.from(`${user.email}:${user.password}`).toString('base64'));
    }
    const paths = searchPaths(MODE);
    // Sign everyone in once (a slow hash each) and ask every phrase once, before the clock starts.
    let next = 0;
    const found = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = next++; i < Math.max(auths.length, PHRASES.length * 2); i = next++) {
          const path = searchPaths('phrases')[i % (PHRASES.length * 2)]!;
          const response = await fetch(`${baseUrl}${path}`, {
            headers: { authorization: `Basic ${auths[i % auths.length]}` },
          });
          const body = (await response.json()) as { count?: number; message?: string };
          if (!response.ok) throw new Error(`GET ${path} answered ${response.status}: ${body.message}`);
          found.set(decodeURIComponent(path), body.count ?? 0);
        }
      }),
    );
    console.error(`search: ${auths.length} users signed in; first-page hits: ${JSON.stringify([...found])}`);
    return { auths, paths } satisfies Data;
  },
  load({ data }) {
    const { auths, paths } = data as Data;
    return {
      kind: 'flow',
      wrk: { script: 'search.lua', vars: { auths: auths.join(','), paths: paths.join(' ') } },
      autocannon: {
        steps: [
          {
            method: 'GET',
            setupRequest: (request) => ({
              ...request,
              path: paths[random(paths.length)]!,
              headers: { ...request.headers, authorization: `Basic ${auths[random(auths.length)]}` },
            }),
          },
        ],
      },
    };
  },
};

export default search;
