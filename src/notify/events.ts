import type { Platform } from '../platform/context.ts';
import type { ConsumerSpec } from '../platform/outbox/index.ts';

export const NOTIFY_CONSUMER = 'notify';

/** The platform's own events → notifications to buyers. Being built. */
export function notifyEventsConsumer(_platform: Platform): ConsumerSpec {
  return { name: NOTIFY_CONSUMER, topics: ['notify.none'], handler: async () => {} };
}
