import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { SALES_TOTALS, ZoneSales } from '../booking/index.ts';
import { requirePermission } from '../platform/auth/access.ts';
import type { Platform } from '../platform/context.ts';
import { errorResponse, positiveId } from '../platform/http/schemas.ts';
import type { HttpApp } from '../platform/http/types.ts';
import { LiveHub, type LiveHubOptions, type LiveSnapshot } from './live.ts';

/** A comment line this often keeps proxies and the browser from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;

const date = Type.String({ format: 'date-time' });
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

const EventSales = Type.Object({
  event_id: Type.Integer(),
  title: nullable(Type.String()),
  ...SALES_TOTALS,
  zones: Type.Array(ZoneSales),
});

export const LiveSnapshotSchema = Type.Object(
  {
    at: date,
    sales: Type.Object({
      event_id: nullable(Type.Integer({ description: 'The chosen event; null: the recent events' })),
      events: Type.Array(EventSales, {
        description:
          'The chosen event, or (none chosen) the events of the newest bookings, at most 3: `GET /api/analytics/zones` plus the title',
      }),
    }),
    drop: nullable(
      Type.Object(
        {
          sale: Type.Integer(),
          startsAt: date,
          endsAt: date,
          items: Type.Integer(),
          left: Type.Integer(),
          sold: Type.Integer(),
          reserved: Type.Integer(),
          perUserLimit: Type.Integer(),
          reservationSeconds: Type.Number(),
          firstCheckoutAt: nullable(date),
          soldOutAt: nullable(date),
          purchasesPerSecond: nullable(
            Type.Number({ description: 'Over the last ~10 s of snapshots, else the sale’s average so far' }),
          ),
        },
        { description: '`GET /api/drops/current` plus the purchase rate; null when drops are off' },
      ),
    ),
    breaker: nullable(
      Type.Object(
        {
          state: Type.Union([Type.Literal('Closed'), Type.Literal('Open'), Type.Literal('HalfOpen')]),
          failure_count: Type.Integer(),
          threshold: Type.Integer(),
          timeout_seconds: Type.Number(),
          opened_at: nullable(date),
          next_attempt_at: nullable(date),
        },
        { description: 'What `GET /api/payments/circuit-breaker-status` says in `circuit_breaker`' },
      ),
    ),
    notify: nullable(
      Type.Object(
        {
          sent_last_minute: Type.Integer(),
          queued: Type.Integer({ description: 'Pending deliveries (counted up to 100,000)' }),
          due: Type.Integer({ description: 'Pending and due now (up to 100,000)' }),
          in_flight: Type.Integer({ description: 'Claimed by a worker (live lease)' }),
          failed_last_minute: Type.Integer(),
          failed_last_hour: Type.Integer(),
          dead_letters: Type.Integer({ description: 'Up to 100,000' }),
          capped: Type.Boolean({ description: 'A count reached its cap (read it as “at least”)' }),
          measured_at: date,
        },
        {
          description:
            'Recomputed every 5 s. Sent and failed counts cover deliveries created today or yesterday (UTC).',
        },
      ),
    ),
  },
  { description: 'The live dashboard: sales per event and zone, the current drop, the breaker, notify' },
);

const Query = Type.Object({
  event_id: Type.Optional(positiveId('The event to show; without it, the events with the newest bookings')),
});

const errors = {
  400: errorResponse('event_id is not a positive integer'),
  401: errorResponse('No credentials, or invalid ones'),
  403: errorResponse('Needs sales:read'),
  404: errorResponse('No such event'),
};

/**
 * The dashboard's own routes: `GET /api/admin/live` (server-sent events) and `GET /api/admin/overview`
 * (one snapshot as JSON). Streams end when the client goes away or the server stops (`preClose`), so a
 * graceful stop never waits for them.
 */
export async function liveRoutes(
  app: HttpApp,
  platform: Platform,
  options: LiveHubOptions = {},
): Promise<LiveHub> {
  const hub = new LiveHub(platform, options);
  const streams = new Set<FastifyReply>();
  const access = requirePermission(platform, 'sales:read');

  app.addHook('preClose', async () => {
    hub.close();
    for (const reply of streams) reply.raw.end();
    streams.clear();
  });

  app.get(
    '/api/admin/overview',
    {
      preValidation: access,
      schema: {
        tags: ['Admin: dashboard'],
        summary: 'The live dashboard’s snapshot, once (for scripts and tests)',
        querystring: Query,
        response: { 200: LiveSnapshotSchema, ...errors },
      },
    },
    async (request) => {
      const eventId = request.query.event_id;
      if (eventId !== undefined) await hub.checkEvent(eventId);
      return hub.snapshot(eventId);
    },
  );

  app.get(
    '/api/admin/live',
    {
      preValidation: access,
      schema: {
        tags: ['Admin: dashboard'],
        summary: 'The live dashboard: a server-sent event stream of snapshots',
        description: [
          'A `text/event-stream`: an `event: snapshot` whose `data:` is one JSON snapshot (the schema of',
          '`GET /api/admin/overview`) at once and then about once a second, and a comment line (`: heartbeat`)',
          'every 15 s. One snapshot per second is computed per process and event and shared by every stream;',
          'the stream ends when the server stops (EventSource reconnects by itself). A request whose `Accept`',
          'does not name `text/event-stream` gets one snapshot event and the end of the stream.',
        ].join(' '),
        querystring: Query,
        response: {
          200: {
            description: 'The stream',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          ...errors,
        },
      },
    },
    async (request: FastifyRequest<{ Querystring: { event_id?: number } }>, reply) => {
      const eventId = request.query.event_id;
      if (eventId !== undefined) await hub.checkEvent(eventId);
      // Not an EventSource (it always asks for text/event-stream): one snapshot, and the stream ends.
      if (!(request.headers.accept ?? '').includes('text/event-stream')) {
        const snapshot = await hub.snapshot(eventId);
        return reply
          .type('text/event-stream; charset=utf-8')
          .header('cache-control', 'no-cache')
          .send(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
      }
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      raw.write(`retry: ${Math.max(1000, hub.intervalMs)}\n: connected\n\n`);
      streams.add(reply);
      const unsubscribe = hub.subscribe(eventId, (snapshot: LiveSnapshot) => {
        if (!raw.writableEnded) raw.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
      });
      const heartbeat = setInterval(() => {
        if (!raw.writableEnded) raw.write(': heartbeat\n\n');
      }, HEARTBEAT_MS);
      heartbeat.unref();
      const done = () => {
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(reply);
      };
      raw.on('close', done);
      request.raw.on('close', done);
    },
  );

  return hub;
}
