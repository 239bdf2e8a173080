import type { Scenario } from '../lib/scenario.ts';

/** Random buyers: far more than items, so the per-user limit rarely decides and items do. */
const USERS = 1_000_000;
const DEFAULT_ITEMS = 10_000;

const random = (n: number) => Math.floor(Math.random() * n);

/**
 * The flash-sale rush of the contest: each connection checks out a random item for a random user and,
 * when that answers 200, buys it with the code; until the sale is sold out and beyond, where every
 * checkout is a 409 (the storm). Against the main port (the runner's default) it measures the Fastify
 * routes; against the contest port (`--url http://127.0.0.1:8080`) the lean `node:http` path.
 *
 * Sell-out time and the outcome split are the server's own figures: GET /api/drops/current
 * (firstCheckoutAt → soldOutAt) and the attempt log; see docs/drops.md for how they were measured.
 */
const dropRush: Scenario = {
  name: 'drop-rush',
  description:
    'Flash sale: checkout a random item for a random user, buy it on 200; until sold out and beyond',
  async setup({ baseUrl }) {
    // The main port knows the sale size; the contest port serves only the contest API.
    try {
      const response = await fetch(`${baseUrl}/api/drops/current`, { signal: AbortSignal.timeout(5_000) });
      if (response.ok) return { items: ((await response.json()) as { items: number }).items };
      await response.arrayBuffer();
    } catch {
      // not the main port
    }
    return { items: DEFAULT_ITEMS };
  },
  load({ data }) {
    const items = (data as { items?: number } | null)?.items ?? DEFAULT_ITEMS;
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
};

export default dropRush;
