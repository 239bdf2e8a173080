import type { preValidationAsyncHookHandler } from 'fastify';
import { bookingServiceOf } from '../booking/index.ts';
import { basicAuth } from '../identity/index.ts';
import type { BoxofficeModule } from '../platform/context.ts';
import { ticketsRoutes } from './routes.ts';
import {
  RENDER_PENDING_SCHEDULE,
  RENDER_PENDING_TASK,
  renderPendingTickets,
  TICKET_TOPICS,
  ticketEventHandler,
} from './service.ts';

export { TicketErrorCodes } from './errors.ts';
export {
  claimTickets,
  renderPendingTickets,
  renderTickets,
  scanTicket,
  TICKET_TOPICS,
  ticketEventHandler,
  ticketSignerOf,
} from './service.ts';
export { type TicketClaims, verifyTicketToken } from './token.ts';

/** Durable name of the outbox consumer (its cursor). */
export const TICKETS_CONSUMER = 'tickets';

/** Throws at boot for a time zone Intl does not know, rather than on the first ticket. */
function assertTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('ru-RU', { timeZone });
  } catch {
    throw new Error(`TICKETS_TIME_ZONE: ${timeZone} is not an IANA time zone`);
  }
}

/**
 * E-tickets (docs/files.md, "E-tickets"): a PDF per paid booking stored in the file store, signed QR tokens,
 * the buyer's download, the gates' scan, revocation on refund. Issued by an outbox consumer of the booking
 * events (`start` and `worker` roles); the routes need the booking module running beside them (`api`).
 */
export const ticketsModule: BoxofficeModule = {
  name: 'tickets',

  consumers(platform) {
    assertTimeZone(platform.config.TICKETS_TIME_ZONE);
    return [
      {
        name: TICKETS_CONSUMER,
        topics: TICKET_TOPICS,
        handler: ticketEventHandler(platform),
        batchSize: platform.config.TICKETS_BATCH_SIZE,
      },
    ];
  },

  tasks: (platform) => ({
    [RENDER_PENDING_TASK]: async () => {
      await renderPendingTickets(platform);
    },
  }),

  cron: [{ pattern: '* * * * *', task: RENDER_PENDING_TASK, identifier: RENDER_PENDING_SCHEDULE }],

  async routes(app, platform) {
    await ticketsRoutes(
      app,
      platform,
      () => bookingServiceOf(platform),
      basicAuth(platform) as unknown as preValidationAsyncHookHandler,
    );
  },
};
