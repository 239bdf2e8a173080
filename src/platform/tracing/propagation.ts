import { context, propagation, ROOT_CONTEXT, type SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { tracer, tracingActive } from './tracing.ts';

type Attributes = Record<string, string | number | boolean>;

/** The active span as a W3C `traceparent`, to store with work another process picks up; null when none. */
export function currentTraceparent(): string | null {
  if (!tracingActive() || !trace.getActiveSpan()) return null;
  const carrier: { traceparent?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/**
 * Runs `work` in a span of its own, whose parent is `traceparent` (work stored by a traced request:
 * an outbox event, a job) or the active span. Errors mark the span and go on. Without tracing: `work()`.
 */
export function inSpan<T>(
  name: string,
  kind: SpanKind,
  traceparent: string | null | undefined,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  if (!tracingActive()) return work();
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : context.active();
  return tracer().startActiveSpan(name, { kind, attributes }, parent, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}
