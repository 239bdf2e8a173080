export { eventsConfig, streamSettings } from './config.ts';
export { createEventSource, type EventSourceConfig } from './create-source.ts';
export { type DeliveredEvent, EventHeaders } from './envelope.ts';
export { JetStreamEventSource, type JetStreamSourceOptions } from './jetstream-source.ts';
export { connectNats, ensureStream, type StreamSettings, subjectOf } from './nats.ts';
export { OutboxEventSource } from './outbox-source.ts';
export { cutBatch, OutboxRelay, type RelayOptions, relayCursorName } from './relay.ts';
export type { EventConsumer, EventSource } from './source.ts';
