import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import type { OutboxEvent } from '../outbox/consumer.ts';

/**
 * How an outbox event travels on NATS: the body is the payload's JSON, unchanged; the rest rides in
 * headers, so an external consumer reads a plain JSON message and still finds the id to dedupe by.
 */
export const EventHeaders = {
  /** JetStream's dedup key: the outbox row id, the same on every re-publish. */
  msgId: 'Nats-Msg-Id',
  /** The event's place in the outbox log (consecutive, the order the relay publishes in). */
  position: 'Boxoffice-Position',
  /** The entity the event is about; absent for keyless events. */
  key: 'Boxoffice-Key',
  createdAt: 'Boxoffice-Created-At',
  /** W3C trace context of the request that wrote the event, when it was traced (the header name of HTTP). */
  traceparent: 'traceparent',
} as const;

/** One event as every consumer receives it, from the outbox poller or from JetStream alike: the outbox's own shape. */
export type DeliveredEvent = OutboxEvent;

export function eventHeaders(event: {
  id: string;
  position: number;
  key: string | null;
  createdAt: Date;
  traceContext: string | null;
}): MsgHdrs {
  const h = natsHeaders();
  h.set(EventHeaders.msgId, event.id);
  h.set(EventHeaders.position, String(event.position));
  if (event.key !== null) h.set(EventHeaders.key, event.key);
  h.set(EventHeaders.createdAt, event.createdAt.toISOString());
  if (event.traceContext !== null) h.set(EventHeaders.traceparent, event.traceContext);
  return h;
}

export function eventFromMessage(topic: string, h: MsgHdrs | undefined, body: string): DeliveredEvent {
  if (!h?.get(EventHeaders.msgId)) throw new Error(`message on ${topic} has no ${EventHeaders.msgId} header`);
  return {
    id: h.get(EventHeaders.msgId),
    position: Number(h.get(EventHeaders.position)),
    topic,
    key: h.has(EventHeaders.key) ? h.get(EventHeaders.key) : null,
    payload: JSON.parse(body),
    createdAt: new Date(h.get(EventHeaders.createdAt)),
    traceContext: h.has(EventHeaders.traceparent) ? h.get(EventHeaders.traceparent) : null,
  };
}
