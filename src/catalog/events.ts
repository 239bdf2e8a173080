import type { DomainEvent } from '../platform/outbox/index.ts';
import type { EventRow } from './types.ts';

/** Outbox topics of the catalog. Seed and import write in bulk and publish none (docs/catalog.md). */
export const CatalogTopics = {
  created: 'event.created',
  updated: 'event.updated',
} as const;

/** The event as it is after the write; `datetimeStart` in ISO 8601 (UTC). */
export type EventPayload = EventRow;

export function created(event: EventRow): DomainEvent<EventPayload> {
  return { topic: CatalogTopics.created, key: String(event.id), payload: event };
}

export function updated(event: EventRow): DomainEvent<EventPayload> {
  return { topic: CatalogTopics.updated, key: String(event.id), payload: event };
}
