import type { BookingStatusPayload } from '../booking/events.ts';
import { getEvent } from '../catalog/index.ts';
import type { PurchasedPayload } from '../drops/events.ts';
import type { PaymentEventPayload } from '../payments/events.ts';
import type { Platform } from '../platform/context.ts';
import type { Tx } from '../platform/db/client.ts';
import type { ConsumerSpec, OutboxEvent } from '../platform/outbox/index.ts';
import { defaultTemplateId } from './default-templates.ts';
import { publicUrlOf } from './engine/setup.ts';
import { createNotification, enqueueDeliveries, recipientsForUsers, TRANSACTIONAL } from './queue.ts';
import { quietHoursOf } from './quiet-hours.ts';
import { loadTemplateVersion } from './template-cache.ts';

export const NOTIFY_CONSUMER = 'notify';

export const NOTIFY_TOPICS = [
  'booking.paid',
  'payment.failed',
  'payment.refunded',
  'drop.purchased',
] as const;

interface Buyer {
  locale: string;
  firstName: string | null;
  hasContact: boolean;
}

async function buyerOf(tx: Tx, userId: string | number): Promise<Buyer | undefined> {
  const [row] = await tx<{ locale: string | null; first_name: string | null; has_contact: boolean }[]>`
    select c.locale, u.first_name, c.user_id is not null as has_contact
    from users u left join notify_contacts c on c.user_id = u.id
    where u.id = ${String(userId)}::bigint`;
  return row
    ? { locale: row.locale ?? 'ru', firstName: row.first_name, hasContact: row.has_contact }
    : undefined;
}

/** What a message about a booking says, from the event's payload and the catalog. */
async function bookingVariables(
  tx: Tx,
  p: { bookingId: number; eventId: number; amount?: string; currency?: string },
) {
  const event = await getEvent(tx, p.eventId);
  return {
    booking_id: p.bookingId,
    event_title: event?.title ?? `#${p.eventId}`,
    event_starts_at: event?.datetimeStart
      ? new Date(event.datetimeStart).toISOString().slice(0, 16).replace('T', ' ')
      : null,
    amount: p.amount ?? null,
    currency: p.currency ?? 'RUB',
  };
}

/**
 * The platform's own events → emails to the buyer (docs/notify.md, "Platform events"): booking paid (with
 * the e-ticket link), payment failed, refund done, drop purchase (only when the buyer has a contact: drop
 * buyers come from a contest client and may never have asked for mail). The template is the default one in
 * the buyer's locale. Runs in the consumer's transaction, so the cursor moves with the notification: one
 * notification per event, however often it is redelivered.
 */
export function notifyEventsConsumer(platform: Platform): ConsumerSpec {
  const baseUrl = publicUrlOf(platform.config);
  return {
    name: NOTIFY_CONSUMER,
    topics: [...NOTIFY_TOPICS],
    batchSize: 100,
    handler: async (event: OutboxEvent, tx: Tx) => {
      // At-least-once: an event handed over again (a cursor moved back, a replay) makes nothing new.
      const [done] = await tx`
        select 1 from notify_notifications where kind = 'event' and source_id = ${event.id}::bigint limit 1`;
      if (done) return;
      const message = await messageFor(tx, event, baseUrl);
      if (!message) return;
      const version = await loadTemplateVersion(tx, message.templateId);
      if (!version) {
        platform.logger.warn(
          { template: message.templateId, topic: event.topic },
          'notify: default template missing',
        );
        return;
      }
      const { recipients } = await recipientsForUsers(tx, 'email', TRANSACTIONAL, [Number(message.userId)]);
      if (recipients.length === 0) return;
      const notification = await createNotification(tx, {
        kind: 'event',
        channel: 'email',
        category: TRANSACTIONAL,
        templateId: message.templateId,
        templateVersion: version.version,
        variables: message.variables,
        contentId: `outbox:${event.id}`,
        sourceId: Number(event.id),
      });
      await enqueueDeliveries(tx, notification, recipients, quietHoursOf(platform.config));
    },
  };
}

async function messageFor(
  tx: Tx,
  event: OutboxEvent,
  baseUrl: string,
): Promise<{ userId: string | number; templateId: string; variables: Record<string, unknown> } | undefined> {
  switch (event.topic) {
    case 'booking.paid': {
      const p = event.payload as BookingStatusPayload & { amount?: string };
      const buyer = await buyerOf(tx, p.userId);
      if (!buyer) return undefined;
      return {
        userId: p.userId,
        templateId: defaultTemplateId('booking-paid', buyer.locale),
        variables: {
          first_name: buyer.firstName,
          ...(await bookingVariables(tx, p)),
          tickets_url: `${baseUrl}/api/bookings/${p.bookingId}/tickets.pdf`,
        },
      };
    }
    case 'payment.failed':
    case 'payment.refunded': {
      const p = event.payload as PaymentEventPayload;
      const buyer = await buyerOf(tx, p.userId);
      if (!buyer) return undefined;
      return {
        userId: p.userId,
        templateId: defaultTemplateId(
          event.topic === 'payment.failed' ? 'payment-failed' : 'refund-done',
          buyer.locale,
        ),
        variables: {
          first_name: buyer.firstName,
          ...(await bookingVariables(tx, p)),
          ...(event.topic === 'payment.failed' ? { reason: p.reason ?? null } : {}),
        },
      };
    }
    case 'drop.purchased': {
      const p = event.payload as PurchasedPayload;
      const buyer = await buyerOf(tx, p.userId);
      if (!buyer?.hasContact) return undefined;
      return {
        userId: p.userId,
        templateId: defaultTemplateId('drop-purchase', buyer.locale),
        variables: { first_name: buyer.firstName, item_name: p.item.name, code: p.code, sale: p.sale },
      };
    }
    default:
      return undefined;
  }
}
