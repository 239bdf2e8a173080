import { Type } from 'typebox';
import { AppError } from '../platform/http/errors.ts';
import { errorResponse } from '../platform/http/schemas.ts';
import type { HttpApp } from '../platform/http/types.ts';
import { isPromise } from './authority.ts';
import type { DropFailure } from './errors.ts';
import { parseCheckoutQuery, parsePurchaseQuery } from './params.ts';
import type { DropsService } from './service.ts';

const PlainText = (description: string) => ({
  description,
  content: { 'text/plain': { schema: Type.String() } },
});

const contestErrors = {
  400: errorResponse('Bad parameters or malformed code'),
  409: errorResponse('Item unavailable, user limit reached, or code unknown, expired or used'),
  503: errorResponse('Shutting down, or the write could not be made durable: retry'),
};

const CheckoutQuery = Type.Object({
  user_id: Type.Optional(
    Type.String({ description: 'Integer from 0 to 9223372036854775807', examples: ['42'] }),
  ),
  id: Type.Optional(Type.String({ description: 'Item id, from 0 to items per sale - 1', examples: ['7'] })),
  item_id: Type.Optional(Type.String({ description: 'Same as `id` (seed 003 names it so)' })),
});

const PurchaseQuery = Type.Object({
  code: Type.Optional(Type.String({ format: 'uuid', description: 'The code /checkout returned' })),
});

const CurrentSale = Type.Object({
  sale: Type.Integer({ description: 'Sale number: floor((now - epoch) / period)' }),
  startsAt: Type.String({ format: 'date-time' }),
  endsAt: Type.String({ format: 'date-time' }),
  items: Type.Integer(),
  left: Type.Integer({ description: 'Neither sold nor held' }),
  sold: Type.Integer(),
  reserved: Type.Integer({ description: 'Held by a live checkout' }),
  perUserLimit: Type.Integer(),
  reservationSeconds: Type.Number(),
  firstCheckoutAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  soldOutAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const ItemsPage = Type.Object({
  sale: Type.Integer(),
  startsAt: Type.String({ format: 'date-time' }),
  endsAt: Type.String({ format: 'date-time' }),
  total: Type.Integer(),
  offset: Type.Integer(),
  limit: Type.Integer(),
  nextOffset: Type.Union([Type.Integer(), Type.Null()], { description: 'Offset of the next page, or null' }),
  items: Type.Array(
    Type.Object({
      id: Type.Integer(),
      name: Type.String(),
      imageUrl: Type.String(),
      status: Type.Union(
        [Type.Literal('available'), Type.Literal('reserved'), Type.Literal('sold'), Type.Literal('unsold')],
        { description: 'available | reserved | sold for the open sale; sold | unsold for a past one' },
      ),
    }),
  ),
});

/**
 * The drops routes on the main port: the contest API (same parser, rules and statuses as the contest
 * port; errors in the platform's JSON error body) and the storefront reads.
 */
export async function dropsRoutes(app: HttpApp, service: DropsService): Promise<void> {
  const items = service.settings.items;
  const badItem = service.badItem;
  const fail = (failure: DropFailure): never => {
    throw new AppError(failure.code, failure.status, failure.message);
  };
  // The contest parameters are parsed by the same code as on the contest port (params.ts), so both ports
  // answer and record identical input identically; the schema documents them but validates nothing.
  const documentedOnly = () => () => true;
  // For the same reason the platform's text guard stays out of it: the parsers take digits and hex only, so
  // no NUL reaches PostgreSQL, and bad input is answered (and recorded) as on the contest port.
  const config = { textGuard: false };

  app.post(
    '/checkout',
    {
      schema: {
        tags: ['drops'],
        summary: 'Reserve an item of the current sale (contest API)',
        description:
          'Holds item `id` for `user_id` and answers the checkout code (a UUID) as plain text. Every attempt is recorded.',
        querystring: CheckoutQuery,
        response: { 200: PlainText('The checkout code'), ...contestErrors },
      },
      validatorCompiler: documentedOnly,
      config,
    },
    async (request, reply) => {
      const parsed = parseCheckoutQuery(queryOf(request.url), items, badItem);
      if (!parsed.ok) {
        service.rejectCheckout(parsed.failure, parsed.user, parsed.item);
        return fail(parsed.failure);
      }
      const answer = service.checkout(parsed.user, parsed.item);
      const result = isPromise(answer) ? await answer : answer;
      if (typeof result !== 'string') return fail(result);
      return reply.type('text/plain; charset=utf-8').send(result);
    },
  );

  app.post(
    '/purchase',
    {
      schema: {
        tags: ['drops'],
        summary: 'Buy the item reserved under a checkout code (contest API)',
        description: 'Answers 200 `OK` once the purchase is durable. A code is single-use.',
        querystring: PurchaseQuery,
        response: { 200: PlainText('`OK`'), ...contestErrors },
      },
      validatorCompiler: documentedOnly,
      config,
    },
    async (request, reply) => {
      const parsed = parsePurchaseQuery(queryOf(request.url));
      if (!parsed.ok) return fail(parsed.failure);
      const answer = service.purchase(parsed.code);
      const result = isPromise(answer) ? await answer : answer;
      if (result !== true) return fail(result);
      return reply.type('text/plain; charset=utf-8').send('OK');
    },
  );

  app.get(
    '/api/drops/current',
    {
      schema: {
        tags: ['drops'],
        summary: 'The open sale: its window and how many items are left, sold and reserved',
        response: { 200: CurrentSale },
      },
    },
    async () => service.current(),
  );

  app.get(
    '/api/drops/:sale/items',
    {
      schema: {
        tags: ['drops'],
        summary: "A page of a sale's items (name, image, status) for a storefront",
        params: Type.Object({ sale: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }),
        querystring: Type.Object({
          offset: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        }),
        response: { 200: ItemsPage, 404: errorResponse('The sale has not started yet') },
      },
    },
    async (request) => {
      const { sale } = request.params;
      const { offset, limit } = request.query;
      const page = await service.items(sale, offset, limit);
      if (!page) throw new AppError('DROPS_SALE_NOT_FOUND', 404, `sale ${sale} has not started yet`);
      return page;
    },
  );
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}
