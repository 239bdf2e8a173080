-- The W3C `traceparent` of the span that wrote the event, when tracing is on: consumers (in any
-- process, through the outbox or JetStream) continue the trace of the request that caused it.
-- Null without tracing; adding a nullable column rewrites nothing.
alter table outbox_events add column trace_context text;
