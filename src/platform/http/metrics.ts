import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import { applicationName, type Sql } from '../db/client.ts';
import type { HttpApp } from './types.ts';

/**
 * Prometheus metrics: request counts and latency by route template (never the raw URL, which
 * would explode cardinality), the process's database sessions as PostgreSQL sees them,
 * event-loop lag and memory from prom-client's defaults, and the peak of resident memory. `registry` is the
 * process's (`Platform.metrics`), where modules add theirs.
 */
export function registerMetrics(app: HttpApp, registry: Registry, db: Sql, poolMax: number): void {
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'process_max_resident_memory_bytes',
    help: "Largest resident set size of this process since it started (the kernel's high-water mark)",
    registers: [registry],
    collect() {
      this.set(process.resourceUsage().maxRSS * 1024);
    },
  });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'db_pool_max_connections',
    help: 'Largest number of connections this process opens',
    registers: [registry],
    collect() {
      this.set(poolMax);
    },
  });
  const appName = applicationName();
  new Gauge({
    name: 'db_pool_connections',
    help: 'Open database connections of this process, by state (from pg_stat_activity)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db<{ state: string | null; n: number }[]>`
        select coalesce(state, 'unknown') as state, count(*)::int as n
        from pg_stat_activity where application_name = ${appName} group by 1`;
      for (const row of rows) this.set({ state: row.state ?? 'unknown' }, row.n);
    },
  });

  // Label children are looked up once per method/route/status, not hashed from objects per request.
  const children = new Map<
    string,
    { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> }
  >();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = children.get(key);
    if (!child) {
      const labels = { method: request.method, route, status: String(reply.statusCode) };
      child = { count: requests.labels(labels), time: duration.labels(labels) };
      children.set(key, child);
    }
    child.count.inc();
    child.time.observe(reply.elapsedTime / 1000);
    request.log.debug({ status: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
    done();
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
