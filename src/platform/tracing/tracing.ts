import { hostname } from 'node:os';
import { context, DiagLogLevel, diag, propagation, type Tracer, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import { traceOutgoingFetch } from './fetch.ts';
import { tracePostgresQueries } from './postgres.ts';

export interface TracingOptions {
  endpoint: string;
  serviceName: string;
  /** `start`, `api` or `worker`: a resource attribute, so a trace shows which process did what. */
  role: string;
  samplerRatio: number;
  /** Batching: the longest a span waits for export, and the most spans waiting. */
  scheduleDelayMs: number;
  maxQueueSize: number;
  logger: Logger;
}

export interface Tracing {
  /** Sends the spans still queued (at shutdown: a process's last spans are not lost). */
  flush(): Promise<void>;
}

let started: Tracing | undefined;

/** The tracer every instrumentation point uses; a no-op one until tracing starts. */
export const tracer = (): Tracer => trace.getTracer('boxoffice');

/** True once this process exports spans: instrumentation that costs anything checks it first. */
export const tracingActive = (): boolean => started !== undefined;

/**
 * Registers the OpenTelemetry SDK for this process: W3C trace context, async-local context, a
 * parent-based ratio sampler, batched OTLP/HTTP export, and the instrumentation of PostgreSQL
 * queries and outgoing fetches. Once per process (a second call returns the first).
 */
export function startTracing(options: TracingOptions): Tracing {
  if (started) return started;
  const log = options.logger.child({ component: 'tracing' });
  // The SDK reports export failures through `diag`: as warnings, not as silence.
  diag.setLogger(
    {
      error: (message, ...args) => log.warn({ args }, message),
      warn: (message, ...args) => log.warn({ args }, message),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const exporter = new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName,
      'service.instance.id': `${hostname()}:${process.pid}`,
      'process.pid': process.pid,
      'boxoffice.role': options.role,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.samplerRatio) }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: options.scheduleDelayMs,
        maxQueueSize: options.maxQueueSize,
        maxExportBatchSize: Math.min(512, options.maxQueueSize),
      }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  tracePostgresQueries(log);
  traceOutgoingFetch();
  log.info(
    { endpoint: options.endpoint, sampler: options.samplerRatio },
    'tracing: spans exported over OTLP',
  );
  started = {
    async flush() {
      await provider.forceFlush().catch((error: Error) => log.warn({ err: error }, 'flushing spans failed'));
    },
  };
  return started;
}
