import { Counter, Gauge, type Registry } from 'prom-client';
import type { LocalElement } from './element.ts';

export interface FilesMetrics {
  operation(operation: string, result: 'success' | 'failure'): void;
  scrubFindings: Gauge<'kind'>;
}

const registered = new WeakMap<
  Registry,
  { metrics: FilesMetrics; source: { elements: Map<string, LocalElement> } }
>();

/** Seed 002's metrics on the platform's registry: operations by result, and space used per element. */
export function filesMetrics(
  registry: Registry,
  source: { elements: Map<string, LocalElement> },
): FilesMetrics {
  const existing = registered.get(registry);
  if (existing) {
    // The service's elements replace the empty list a worker's scrub registered with.
    if (source.elements.size > 0) existing.source = source;
    return existing.metrics;
  }
  const entry = { metrics: undefined as unknown as FilesMetrics, source };
  const operations = new Counter({
    name: 'file_operations_total',
    help: 'File operations (upload, download, delete, metadata_update, mode_change, scrub) by result',
    labelNames: ['operation', 'result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'storage_space_used_bytes',
    help: 'Bytes of the files stored on each storage element',
    labelNames: ['element'] as const,
    registers: [registry],
    collect() {
      for (const element of entry.source.elements.values())
        this.set({ element: element.id }, element.usedBytes);
    },
  });
  const scrubFindings = new Gauge({
    name: 'files_scrub_findings',
    help: 'Problems the last scrub (files check) found, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const metrics: FilesMetrics = {
    operation: (operation, result) => operations.inc({ operation, result }),
    scrubFindings,
  };
  entry.metrics = metrics;
  registered.set(registry, entry);
  return metrics;
}
