import type { Sql } from '../platform/db/client.ts';
import { AppError } from '../platform/http/errors.ts';
import { publish } from '../platform/outbox/index.ts';
import * as events from './events.ts';
import * as store from './store.ts';
import type { EventRow } from './types.ts';

/** A new event; `id` is taken from the sequence (10,000,000 up) unless given. */
export interface NewEvent {
  id?: number | undefined;
  title: string;
  description?: string | null | undefined;
  type?: string | undefined;
  provider?: string | undefined;
  datetimeStart: Date;
}

export interface EventChanges {
  title?: string | undefined;
  description?: string | null | undefined;
  type?: string | undefined;
  provider?: string | undefined;
  datetimeStart?: Date | undefined;
}

const MAX_TEXT = 10_000;

function check(input: EventChanges): void {
  if (input.title !== undefined && (input.title.trim() === '' || input.title.length > 1000)) {
    throw new AppError('VALIDATION_FAILED', 400, 'an event title must have 1 to 1000 characters');
  }
  if (input.description && input.description.length > MAX_TEXT) {
    throw new AppError(
      'VALIDATION_FAILED',
      400,
      `an event description must have at most ${MAX_TEXT} characters`,
    );
  }
  for (const [name, value] of [
    ['type', input.type],
    ['provider', input.provider],
  ] as const) {
    if (value !== undefined && (value.trim() === '' || value.length > 64)) {
      throw new AppError('VALIDATION_FAILED', 400, `an event ${name} must have 1 to 64 characters`);
    }
  }
  const start = input.datetimeStart;
  if (
    start !== undefined &&
    (Number.isNaN(start.getTime()) || start.getUTCFullYear() < 1900 || start.getUTCFullYear() > 2999)
  ) {
    throw new AppError('VALIDATION_FAILED', 400, 'an event must start between the years 1900 and 2999');
  }
}

/**
 * Creates an event and publishes `event.created` in the same transaction. The catalog's trigger then
 * tells the API processes to drop cached search results. Returns the id.
 */
export async function createEvent(db: Sql, input: NewEvent): Promise<number> {
  check(input);
  const row = {
    id: input.id,
    title: input.title,
    description: input.description ?? null,
    type: input.type ?? 'stage',
    provider: input.provider ?? 'TicketRu',
    datetimeStart: input.datetimeStart,
  };
  await store.ensurePartitions(db, [row.datetimeStart.getUTCFullYear()]);
  try {
    return await db.begin(async (tx) => {
      const id = await store.insertEvent(tx, row);
      await publish(tx, events.created({ ...row, id, datetimeStart: row.datetimeStart.toISOString() }));
      return id;
    });
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new AppError('CATALOG_EVENT_EXISTS', 409, `event ${input.id} exists already`);
    }
    throw error;
  }
}

/** Changes an event and publishes `event.updated` with it; undefined when there is no such event. */
export async function updateEvent(db: Sql, id: number, changes: EventChanges): Promise<EventRow | undefined> {
  check(changes);
  if (changes.datetimeStart) await store.ensurePartitions(db, [changes.datetimeStart.getUTCFullYear()]);
  return db.begin(async (tx) => {
    const row = await store.updateEvent(tx, id, changes);
    if (row) await publish(tx, events.updated(row));
    return row;
  });
}
