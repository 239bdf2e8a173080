import { Type } from 'typebox';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { errorResponse } from '../../platform/http/schemas.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import {
  AnalyticsRangeError,
  analyticsRange,
  COUNTED_STATUSES,
  GROUP_BY,
  type GroupBy,
  MAX_SPAN_DAYS,
  notifyAnalytics,
  openLatencyHistogram,
} from '../analytics.ts';
import { CHANNELS } from '../queue.ts';

const Rate = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

const Numbers = {
  counts: Type.Object(
    Object.fromEntries(COUNTED_STATUSES.map((s) => [s, Type.Integer()])) as Record<
      (typeof COUNTED_STATUSES)[number],
      ReturnType<typeof Type.Integer>
    >,
    {
      description:
        'Deliveries created in the range (created), and how many of them reached each status (clicked: first clicks)',
    },
  ),
  delivery_rate: Rate('delivered / sent; null when nothing was sent'),
  open_rate: Rate('opened / sent (not every provider reports deliveries); null when nothing was sent'),
  click_rate: Rate('clicked / sent; null when nothing was sent'),
  time_to_open: Type.Union([Type.Object({ p50: Type.Number(), p95: Type.Number() }), Type.Null()], {
    description:
      'Seconds from sent to first open (from a log-spaced histogram, ±9 %); null when nothing was opened. Not kept per time zone: null in time_zone groups.',
  }),
};

const Report = Type.Object({
  from: Type.String({ format: 'date' }),
  to: Type.String({ format: 'date' }),
  group_by: Type.String(),
  channel: Type.Union([Type.String(), Type.Null()]),
  groups: Type.Array(
    Type.Object({
      key: Type.Union([Type.String(), Type.Null()], {
        description: 'The day, channel, country or time zone; null for deliveries without a country or zone',
      }),
      ...Numbers,
    }),
  ),
  totals: Type.Object(Numbers),
});

const Query = Type.Object({
  from: Type.Optional(
    Type.String({ description: 'First day (YYYY-MM-DD, UTC); default 29 days before `to`' }),
  ),
  to: Type.Optional(Type.String({ description: 'Last day (YYYY-MM-DD, UTC), inclusive; default today' })),
  channel: Type.Optional(Type.Union(CHANNELS.map((c) => Type.Literal(c)))),
  group_by: Type.Optional(
    Type.Union(
      GROUP_BY.map((g) => Type.Literal(g)),
      { default: 'day' },
    ),
  ),
});

/** GET /api/notify/analytics (FR-007): counts by status, rates and time to open, from the counters only. */
export async function analyticsRoutes(app: HttpApp, platform: Platform): Promise<void> {
  app.get(
    '/api/notify/analytics',
    {
      preValidation: requirePermission(platform, 'notify:read'),
      schema: {
        tags: ['Notify'],
        summary: 'Delivery, open and click numbers by day, channel, country or time zone',
        description: `Counts by status of the deliveries created (UTC days) from \`from\` to \`to\` (at most ${MAX_SPAN_DAYS} days), delivery, open and click rates, and time to open (p50, p95). Read from incremental counters: fast for any range.`,
        querystring: Query,
        response: {
          200: Report,
          400: errorResponse('A bad date, range, channel or group_by'),
          401: errorResponse('No or invalid credentials'),
          403: errorResponse('Without notify:read'),
        },
      },
    },
    async (request) => {
      const query = request.query as { from?: string; to?: string; channel?: string; group_by?: GroupBy };
      let range: { from: string; to: string };
      try {
        range = analyticsRange(query.from, query.to);
      } catch (error) {
        if (error instanceof AnalyticsRangeError) throw new AppError('VALIDATION_FAILED', 400, error.message);
        throw error;
      }
      return notifyAnalytics(platform.db, {
        ...range,
        groupBy: query.group_by ?? 'day',
        ...(query.channel ? { channel: query.channel } : {}),
      });
    },
  );
  app.get(
    '/api/notify/analytics/time-to-open',
    {
      preValidation: requirePermission(platform, 'notify:read'),
      schema: {
        tags: ['Notify'],
        summary: 'The time-to-open distribution: how many first opens came how long after the send',
        description: `A histogram of seconds from sent to first open of the deliveries created (UTC days) from \`from\` to \`to\` (at most ${MAX_SPAN_DAYS} days): the non-empty log-spaced buckets (four per doubling, ±9 %), read from the counters.`,
        querystring: Type.Object({
          from: Query.properties.from,
          to: Query.properties.to,
          channel: Query.properties.channel,
        }),
        response: {
          200: Type.Object({
            from: Type.String({ format: 'date' }),
            to: Type.String({ format: 'date' }),
            channel: Type.Union([Type.String(), Type.Null()]),
            total: Type.Integer({ description: 'First opens in the range' }),
            buckets: Type.Array(
              Type.Object({
                bucket: Type.Integer(),
                from_seconds: Type.Number({ description: 'Lower edge (inclusive)' }),
                to_seconds: Type.Number({ description: 'Upper edge (exclusive)' }),
                count: Type.Integer(),
              }),
            ),
          }),
          400: errorResponse('A bad date, range or channel'),
          401: errorResponse('No or invalid credentials'),
          403: errorResponse('Without notify:read'),
        },
      },
    },
    async (request) => {
      const query = request.query as { from?: string; to?: string; channel?: string };
      let range: { from: string; to: string };
      try {
        range = analyticsRange(query.from, query.to);
      } catch (error) {
        if (error instanceof AnalyticsRangeError) throw new AppError('VALIDATION_FAILED', 400, error.message);
        throw error;
      }
      const buckets = await openLatencyHistogram(platform.db, {
        ...range,
        ...(query.channel ? { channel: query.channel } : {}),
      });
      return {
        ...range,
        channel: query.channel ?? null,
        total: buckets.reduce((sum, b) => sum + b.count, 0),
        buckets,
      };
    },
  );
}
