import { trace } from '@opentelemetry/api';

const NONE = {};

/** pino `mixin`: the active span's ids on every log line written inside a trace (OpenTelemetry's log field names). */
export function traceLogFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return NONE;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags.toString(16).padStart(2, '0') };
}
