import type { Scenario } from '../lib/scenario.ts';

/** The cheapest route: what the HTTP stack (Fastify, hooks, logging) costs over a bare Node server. */
const health: Scenario = {
  name: 'health',
  description: 'GET /health/live (no database): framework overhead versus the bare-Node ceiling',
  load: () => ({ kind: 'request', request: { method: 'GET', path: '/health/live' } }),
};

export default health;
