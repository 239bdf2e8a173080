import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Sql } from '../../platform/db/client.ts';

export interface DeliveryMetrics {
  settled(channel: string, provider: string, status: string): void;
  sendSeconds: Histogram<'channel'>;
}

const registered = new WeakMap<Registry, DeliveryMetrics>();

/**
 * Notify's metrics (seed 004): deliveries by channel, provider and status, send latency, and, read from the
 * database at scrape time, the queue depth and the age of the oldest due delivery.
 */
export function deliveryMetrics(registry: Registry, db: Sql): DeliveryMetrics {
  const existing = registered.get(registry);
  if (existing) return existing;
  const deliveries = new Counter({
    name: 'notify_deliveries_total',
    help: 'Deliveries settled by this process, by channel, provider and status (sent, retry, failed, bounced, suppressed)',
    labelNames: ['channel', 'provider', 'status'] as const,
    registers: [registry],
  });
  const sendSeconds = new Histogram({
    name: 'notify_send_seconds',
    help: 'Time from claiming a delivery to its provider accepting it',
    labelNames: ['channel'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Registered on the registry, read at scrape time through collect(): nothing else holds them.
  new Gauge({
    name: 'notify_queue_depth',
    help: 'Pending deliveries by priority (0 instant, 1 event, 2 scheduled, 3 bulk), due now or later',
    labelNames: ['priority'] as const,
    registers: [registry],
    async collect() {
      const rows = await db<{ priority: number; n: string }[]>`
        select priority, count(*)::text as n from notify_deliveries where status = 'pending' group by priority`;
      this.reset();
      for (const row of rows) this.set({ priority: String(row.priority) }, Number(row.n));
    },
  });
  new Gauge({
    name: 'notify_oldest_due_seconds',
    help: 'Age of the oldest pending delivery that is due (0 when none)',
    registers: [registry],
    async collect() {
      const [row] = await db<{ age: number | null }[]>`
        select extract(epoch from now() - min(next_attempt_at))::float8 as age
        from notify_deliveries where status = 'pending' and next_attempt_at <= now()`;
      this.set(Math.max(0, row?.age ?? 0));
    },
  });
  const metrics: DeliveryMetrics = {
    settled: (channel, provider, status) => deliveries.inc({ channel, provider, status }),
    sendSeconds,
  };
  registered.set(registry, metrics);
  return metrics;
}
