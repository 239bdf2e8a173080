import { currentTraceparent } from '../tracing/propagation.ts';

/** Where a job's payload carries the `traceparent` of the span that enqueued it. Never seen by a handler. */
export const TRACE_KEY = '__traceparent';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The payload to store: with the active span's `traceparent` when there is one (object payloads only). */
export function withTraceContext(payload: unknown): unknown {
  const traceparent = currentTraceparent();
  return traceparent && isPlainObject(payload) ? { ...payload, [TRACE_KEY]: traceparent } : payload;
}

/** The payload as the handler expects it, and the trace it was enqueued in (stripped even when this process does not trace). */
export function takeTraceContext(payload: unknown): { payload: unknown; traceparent: string | null } {
  if (!isPlainObject(payload) || !(TRACE_KEY in payload)) return { payload, traceparent: null };
  const { [TRACE_KEY]: traceparent, ...rest } = payload;
  return { payload: rest, traceparent: typeof traceparent === 'string' ? traceparent : null };
}
