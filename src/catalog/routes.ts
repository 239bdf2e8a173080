import { Type } from 'typebox';
import { errorResponse } from '../platform/http/schemas.ts';
import type { HttpApp } from '../platform/http/types.ts';
import {
  type EventsQuery,
  PAGE_SIZE_DEFAULT,
  PAGE_SIZE_MAX,
  parseEventsQuery,
  QUERY_MAX_LENGTH,
  RESULT_WINDOW_MAX,
} from './params.ts';
import type { CatalogSearch } from './search.ts';

const date = (description: string) =>
  Type.Optional(
    Type.String({ maxLength: 32, description: `${description} (YYYY-MM-DD, UTC)`, examples: ['2024-12-25'] }),
  );

const EventsQuerySchema = Type.Object({
  query: Type.Optional(
    Type.String({
      maxLength: QUERY_MAX_LENGTH,
      description:
        'Full-text search over title, description, type and provider, with Russian and English stemming, ' +
        'ranked (title matches first). Web-search syntax: "a phrase", `or`, `-excluded`.',
      examples: ['Чемпионат', 'Экспозиция "Звездные войны"'],
    }),
  ),
  q: Type.Optional(Type.String({ maxLength: QUERY_MAX_LENGTH, description: 'Same as `query`' })),
  date: date('Only events starting on this day'),
  date_from: date('Only events starting on this day or later'),
  date_to: date('Only events starting on this day or earlier'),
  type: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 32,
      pattern: '^[A-Za-z_-]+$',
      description: 'film, cinema, stage, game, concert, theater, sport or exhibition',
    }),
  ),
  provider: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'e.g. TicketRu, EventWorld, ShowTime (exact)' }),
  ),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: RESULT_WINDOW_MAX, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_DEFAULT })),
});

const EventItem = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  type: Type.String(),
  datetime_start: Type.String({ format: 'date-time', description: 'UTC, e.g. 2024-12-25T16:00:00Z' }),
  provider: Type.String(),
});

const EventsPage = Type.Object({
  success: Type.Literal(true),
  count: Type.Integer({ description: 'Number of events in this page (events.length)' }),
  events: Type.Array(EventItem),
});

const responses = {
  200: EventsPage,
  400: errorResponse('Bad parameters: the message says which and why'),
  503: errorResponse('The search took too long (narrow it), or the service is shutting down'),
};

/**
 * The Biletter events API: `GET /api/events` and `GET /api/events/search` (seed 000), both answering
 * the envelope the organizers' load test checks (specs/README.md). Public: a storefront shows events
 * before anyone signs in, and the answer is the same for everybody, so credentials are not read at all
 * (a wrong or throttled password sent along cannot fail the request, and costs no verification).
 */
export async function catalogRoutes(app: HttpApp, search: CatalogSearch): Promise<void> {
  const handler = async (request: { query: EventsQuery }) =>
    search.find(parseEventsQuery(request.query, Date.now()));
  const description =
    'Without `query`: the current events (the last three months and everything upcoming) by start time, or ' +
    'the events in the date range given. With `query`: current and archive events, most relevant first; ' +
    'for frequent words the ranking covers the most recent matches (docs/catalog.md). Cached; a change to ' +
    'any event is visible at once.';

  for (const [url, summary] of [
    ['/api/events', 'List and search events'],
    ['/api/events/search', 'Search events (`q`, same answer as /api/events)'],
  ] as const) {
    app.get(
      url,
      {
        schema: {
          tags: ['events'],
          summary,
          description,
          querystring: EventsQuerySchema,
          response: responses,
          // No credentials needed (any sent are ignored).
          security: [],
        },
      },
      async (request, reply) => {
        const body = await handler(request);
        // The body is the JSON built by PostgreSQL (and cached) already: sent as bytes, not re-serialised.
        return reply.header('content-type', 'application/json; charset=utf-8').send(body as never);
      },
    );
  }
}
