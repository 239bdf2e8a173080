import { Type } from 'typebox';
import { defineConfigSection } from '../platform/config/section.ts';

/** The tickets section of the configuration (see docs/files.md, "E-tickets"). */
export const ticketsConfig = defineConfigSection({
  name: 'tickets',
  title: 'E-tickets: PDFs of paid bookings and gate scans',
  variables: {
    TICKETS_TIME_ZONE: Type.String({
      minLength: 1,
      default: 'Europe/Moscow',
      description: 'IANA time zone the event date is printed in on e-tickets.',
    }),
    TICKETS_BATCH_SIZE: Type.Integer({
      minimum: 1,
      maximum: 500,
      default: 10,
      description:
        'Booking events the e-ticket consumer handles per transaction (each paid booking renders and stores a PDF).',
    }),
  },
});
