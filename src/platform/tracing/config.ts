import { Type } from 'typebox';
import { defineConfigSection } from '../config/section.ts';

/**
 * Distributed tracing (docs/architecture.md, "Tracing"). The names are OpenTelemetry's own, so an
 * operator's usual settings work; the exporter also reads its own (`OTEL_EXPORTER_OTLP_HEADERS`,
 * `OTEL_EXPORTER_OTLP_TIMEOUT` …).
 */
export const tracingConfig = defineConfigSection({
  name: 'tracing',
  title: 'Tracing: OpenTelemetry spans over OTLP',
  variables: {
    OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'OTLP/HTTP receiver (`http://127.0.0.1:4318`): spans go to `<endpoint>/v1/traces` as JSON. Set: every `start`, `api` and `worker` process traces requests, database calls, outgoing HTTP calls, jobs and event consumers, carrying W3C `traceparent` across processes, and its JSON logs carry `trace_id`/`span_id`. Unset: no tracing code runs at all.',
      }),
    ),
    OTEL_SERVICE_NAME: Type.String({
      pattern: '^[A-Za-z0-9_.-]+$',
      default: 'boxoffice',
      description: 'The `service.name` of the spans; each process also reports its role and pid.',
    }),
    OTEL_TRACES_SAMPLER_ARG: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 1,
      description:
        'Share of new traces kept (parent-based ratio sampler): a request that arrives with a sampled `traceparent` is always kept, so a trace is never cut in half.',
    }),
    OTEL_BSP_SCHEDULE_DELAY: Type.Integer({
      minimum: 10,
      maximum: 60000,
      default: 5000,
      description: 'Most milliseconds a finished span waits before its batch is exported.',
    }),
    OTEL_BSP_MAX_QUEUE_SIZE: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 2048,
      description:
        'Spans queued for export at most; beyond it new spans are dropped (never blocking a request).',
    }),
  },
});
