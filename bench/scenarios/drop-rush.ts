import { round } from '../lib/report.ts';
import type { Scenario, ServerFigures } from '../lib/scenario.ts';
import { readJson, readMetrics, sum } from '../lib/status.ts';

/** Random buyers: far more than items, so the per-user limit rarely decides and items do. */
const USERS = 1_000_000;
const DEFAULT_ITEMS = 10_000;

const random = (n: number) => Math.floor(Math.random() * n);

/**
 * The flash-sale rush of the contest: each connection checks out a random item for a random user and,
 * when that answers 200, buys it with the code; until the sale is sold out and beyond, where every
 * checkout is a 409 (the storm). Against the main port (the runner's default) it measures the Fastify
 * routes; against the contest port (`--url http://127.0.0.1:8080 --status-url <main port>`) the lean
 * `node:net` server.
 *
 * After the load it prints the server's own figures (`summarize`): items sold and the time from the first
 * checkout to the last item (GET /api/drops/current), the answers by route and status and the peak RSS
 * (/metrics), and the coupon-collector floor under the sell-out at the run's request rate.
 */
const dropRush: Scenario = {
  name: 'drop-rush',
  description:
    'Flash sale: checkout a random item for a random user, buy it on 200; until sold out and beyond',
  async setup({ statusUrl }) {
    // The main port knows the sale; the contest port serves only the contest API (then --status-url).
    const sale = await readJson<CurrentSale>(`${statusUrl}/api/drops/current`);
    const answers = await readAnswers(statusUrl);
    return { items: sale?.items ?? DEFAULT_ITEMS, sale: sale?.sale ?? null, answers } satisfies Data;
  },
  load({ data }) {
    const items = (data as Data | null)?.items ?? DEFAULT_ITEMS;
    return {
      kind: 'flow',
      wrk: { script: 'drop-rush.lua', vars: { items, users: USERS } },
      autocannon: {
        steps: [
          {
            method: 'POST',
            setupRequest: (request) => ({
              ...request,
              path: `/checkout?user_id=${random(USERS) + 1}&id=${random(items)}`,
            }),
            onResponse: (status, body, context) => {
              context.code = status === 200 ? body : undefined;
            },
          },
          {
            method: 'POST',
            // No code (the checkout was refused): back to step 1 with a new user and item.
            setupRequest: (request, context) =>
              typeof context.code === 'string'
                ? { ...request, path: `/purchase?code=${context.code}` }
                : undefined,
          },
        ],
      },
    };
  },
  async summarize({ statusUrl, data, rps }) {
    const before = data as Data;
    const sale = await readJson<CurrentSale>(`${statusUrl}/api/drops/current`);
    if (!sale) {
      return { note: `no sale figures at ${statusUrl}: give the main port with --status-url` };
    }
    const figures: ServerFigures = { sale: String(sale.sale), sold: sale.sold, items: sale.items };
    if (before.sale !== null && before.sale !== sale.sale) figures.note = 'a new sale opened during the run';
    figures['sell-out (s)'] =
      sale.firstCheckoutAt && sale.soldOutAt
        ? (Date.parse(sale.soldOutAt) - Date.parse(sale.firstCheckoutAt)) / 1000
        : null;
    figures['floor (s)'] = round(couponCollectorRequests(sale.items) / rps, 2);
    const after = await readAnswers(statusUrl);
    if (after && before.answers) {
      for (const [key, n] of Object.entries(after.counts)) {
        const delta = n - (before.answers.counts[key] ?? 0);
        if (delta > 0) figures[key] = delta;
      }
      figures['peak RSS (MiB)'] = Math.round(after.peakRss / 2 ** 20);
    }
    return figures;
  },
};

interface CurrentSale {
  sale: number;
  items: number;
  sold: number;
  firstCheckoutAt: string | null;
  soldOutAt: string | null;
}

interface Answers {
  /** `checkout 200`, `purchase 409`…: answers of both ports (Fastify's and the contest port's counters). */
  counts: Record<string, number>;
  peakRss: number;
}

interface Data {
  items: number;
  sale: number | null;
  answers: Answers | null;
}

/**
 * Requests a sell-out needs at least when every checkout names a random item: N·H(N) checkouts (the
 * coupon collector: with k items left, a checkout finds one with probability k/N) plus N purchases. At the
 * run's mean request rate that is a floor under the sell-out time that no server can beat; how close a
 * run comes to it is what the server decides (docs/drops.md).
 */
export function couponCollectorRequests(items: number): number {
  let harmonic = 0;
  for (let k = 1; k <= items; k++) harmonic += 1 / k;
  return items * harmonic + items;
}

/** Answers by route and status (both ports' counters) and the server's peak RSS; null without /metrics. */
async function readAnswers(statusUrl: string): Promise<Answers | null> {
  const samples = await readMetrics(statusUrl);
  if (!samples) return null;
  const counts: Record<string, number> = {};
  for (const name of ['drops_contest_requests_total', 'http_requests_total']) {
    for (const { labels, value } of samples.get(name) ?? []) {
      const route = labels.route === '/checkout' || labels.route === '/purchase' ? labels.route : undefined;
      if (!route || (name === 'http_requests_total' && labels.method !== 'POST')) continue;
      const key = `${route.slice(1)} ${labels.status}`;
      counts[key] = (counts[key] ?? 0) + value;
    }
  }
  return { counts, peakRss: sum(samples, 'process_max_resident_memory_bytes') };
}

export default dropRush;
