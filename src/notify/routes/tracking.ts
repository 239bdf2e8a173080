import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { errorResponse } from '../../platform/http/schemas.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import { notifyError } from '../errors.ts';
import { CHANNELS } from '../queue.ts';
import { notifyKeys } from '../secrets.ts';
import { type TokenKind, type TrackingToken, verifyToken } from '../tracking.ts';
import {
  applyProviderEvent,
  CALLBACK_SIGNATURE_HEADER,
  CallbackBodyError,
  type CallbackOutcome,
  parseCallbackBody,
  recordClick,
  recordOpen,
  type Unsubscribed,
  unsubscribe,
  unsubscribeTarget,
  verifyCallback,
} from '../tracking-events.ts';

/** A transparent 1×1 GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const TokenParams = Type.Object({ token: Type.String({ description: 'The signed token from the email' }) });
const HtmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: { type: 'string' } } },
});

/**
 * The public side of tracking (FR-006), no credentials: what proves a request is the signed token (or, for
 * provider callbacks, the HMAC of the body). Open pixel, click redirect, unsubscribe (RFC 8058 one-click).
 */
export async function trackingRoutes(app: HttpApp, platform: Platform): Promise<void> {
  const trackingKey = async () => (await notifyKeys(platform.config)).tracking;
  const token = async (raw: string, kind: TokenKind): Promise<TrackingToken> => {
    const found = verifyToken(await trackingKey(), raw, kind);
    if (!found) throw notifyError('NOTIFY_TOKEN_INVALID', `not a valid ${kind} token`);
    return found;
  };
  const ref = (t: TrackingToken) => ({ deliveryId: t.deliveryId, createdOn: t.createdOn });

  app.get(
    '/api/notify/t/o/:token',
    {
      schema: {
        tags: ['Notify'],
        summary: 'Open pixel of an email: records the first open',
        description:
          'Always a 1×1 GIF, also for a bad token (nothing is recorded then): a mail client shows a broken image otherwise, and the answer tells a prober nothing.',
        params: TokenParams,
        response: {
          200: {
            description: 'A 1×1 transparent GIF',
            content: { 'image/gif': { schema: { type: 'string', format: 'binary' } } },
          },
        },
      },
    },
    async (request, reply) => {
      const found = verifyToken(await trackingKey(), (request.params as { token: string }).token, 'open');
      // A failure to record is logged, never shown: the reader would see a broken image for our problem.
      if (found)
        await platform.db
          .begin((tx) => recordOpen(tx, ref(found)))
          .catch((error: unknown) => request.log.warn({ err: error }, 'notify: open not recorded'));
      return sendPixel(reply);
    },
  );

  app.get(
    '/api/notify/t/c/:token',
    {
      schema: {
        tags: ['Notify'],
        summary: 'Click redirect of an email link: records the first click (and an open), then redirects',
        description: 'The target URL is signed into the token: only links that were in the email redirect.',
        params: TokenParams,
        response: {
          302: { description: 'To the link (Location)', type: 'null' },
          400: errorResponse('Not a valid click token (NOTIFY_TOKEN_INVALID)'),
        },
      },
    },
    async (request, reply) => {
      const found = await token((request.params as { token: string }).token, 'click');
      const url = found.url ?? '';
      if (!/^https?:\/\//i.test(url))
        throw notifyError('NOTIFY_TOKEN_INVALID', 'the token holds no http(s) link');
      await platform.db.begin((tx) => recordClick(tx, ref(found)));
      return reply.header('cache-control', 'no-store, private').redirect(url, 302);
    },
  );

  // Unsubscribe: a page with a confirm form for people (GET must change nothing: mail scanners follow links),
  // and the POST that RFC 8058 one-click clients send (`List-Unsubscribe=One-Click`, form-encoded).
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16 * 1024 }, (request, body, done) => {
      const type = String(request.headers['content-type'] ?? '');
      done(
        null,
        type.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body as string) : null,
      );
    });

    scope.get(
      '/api/notify/unsubscribe/:token',
      {
        schema: {
          tags: ['Notify'],
          summary: 'Unsubscribe page of an email: asks to confirm (changes nothing)',
          params: TokenParams,
          response: {
            200: HtmlPage('A page with the confirm form (in the contact’s language: en or ru)'),
            400: errorResponse('Not a valid unsubscribe token (NOTIFY_TOKEN_INVALID)'),
            404: errorResponse('The message is no longer kept'),
          },
        },
      },
      async (request, reply) => {
        const found = await token((request.params as { token: string }).token, 'unsubscribe');
        const target = await unsubscribeTarget(platform.db, ref(found));
        if (!target) throw notifyError('NOTIFY_NOT_FOUND', 'this message is no longer kept');
        return sendPage(reply, confirmPage(target));
      },
    );

    scope.post(
      '/api/notify/unsubscribe/:token',
      {
        schema: {
          tags: ['Notify'],
          summary: 'Unsubscribe (RFC 8058 one-click, or the confirm form): suppresses the address',
          description:
            'Body `List-Unsubscribe=One-Click` (application/x-www-form-urlencoded), the form, or empty. Suppresses the address for the message’s category, or for everything with `scope=all`. Idempotent.',
          params: TokenParams,
          response: {
            200: HtmlPage('Confirmation page'),
            400: errorResponse('Not a valid unsubscribe token (NOTIFY_TOKEN_INVALID)'),
            404: errorResponse('The message is no longer kept'),
          },
        },
      },
      async (request, reply) => {
        const found = await token((request.params as { token: string }).token, 'unsubscribe');
        const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
        const done = await platform.db.begin((tx) =>
          unsubscribe(tx, ref(found), form.get('scope') === 'all'),
        );
        if (!done) throw notifyError('NOTIFY_NOT_FOUND', 'this message is no longer kept');
        return sendPage(reply, donePage(done));
      },
    );
  });

  // Provider callbacks are verified against the raw bytes, so their body is not parsed before the handler.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) =>
      done(null, body),
    );
    scope.post(
      '/api/notify/callbacks/:channel',
      {
        schema: {
          tags: ['Notify'],
          summary: 'Delivery callbacks of a provider: delivered, bounce, complaint, failed',
          description:
            'Body `{events: [{message_id | delivery_id, type, bounce_type?, at?, reason?}]}`, signed: `X-Notify-Signature: sha256=<hex HMAC-SHA256 of the raw body>` under the callbacks key. Idempotent: a repeated event changes nothing.',
          params: Type.Object({ channel: Type.Union(CHANNELS.map((c) => Type.Literal(c))) }),
          response: {
            200: Type.Object({
              applied: Type.Integer(),
              unchanged: Type.Integer(),
              unknown: Type.Integer({ description: 'Events naming no delivery of this channel' }),
            }),
            400: errorResponse('Not a callback body'),
            401: errorResponse('Missing or wrong X-Notify-Signature (NOTIFY_CALLBACK_UNAUTHORIZED)'),
          },
        },
      },
      async (request) => {
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const key = (await notifyKeys(platform.config)).callbacks;
        if (!verifyCallback(key, raw, request.headers[CALLBACK_SIGNATURE_HEADER]))
          throw notifyError('NOTIFY_CALLBACK_UNAUTHORIZED', 'missing or wrong X-Notify-Signature');
        let events: ReturnType<typeof parseCallbackBody>;
        try {
          events = parseCallbackBody(raw);
        } catch (error) {
          if (error instanceof CallbackBodyError) throw new AppError('VALIDATION_FAILED', 400, error.message);
          throw error;
        }
        const channel = (request.params as { channel: string }).channel;
        const tally: Record<CallbackOutcome, number> = { applied: 0, unchanged: 0, unknown: 0 };
        // One transaction per callback: a provider retrying after a failure finds either all or none applied.
        await platform.db.begin(async (tx) => {
          for (const event of events) tally[await applyProviderEvent(tx, channel, event)]++;
        });
        return tally;
      },
    );
  });
}

function sendPixel(reply: FastifyReply) {
  return reply.type('image/gif').header('cache-control', 'no-store, private').send(PIXEL);
}

function sendPage(reply: FastifyReply, html: string) {
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store, private').send(html);
}

const TEXT = {
  en: {
    title: 'Unsubscribe',
    ask: (what: string) => `Stop sending ${what} messages to ${'{address}'}?`,
    category: 'Only this kind of message',
    all: 'All messages',
    confirm: 'Unsubscribe',
    done: 'You are unsubscribed',
    doneLine: (what: string) => `No more ${what} messages will be sent to ${'{address}'}.`,
    everything: 'all',
  },
  ru: {
    title: 'Отписка',
    ask: (what: string) => `Больше не присылать сообщения «${what}» на ${'{address}'}?`,
    category: 'Только такие сообщения',
    all: 'Все сообщения',
    confirm: 'Отписаться',
    done: 'Вы отписаны',
    doneLine: (what: string) => `Сообщения «${what}» больше не будут приходить на ${'{address}'}.`,
    everything: 'все',
  },
} as const;

const textFor = (locale: string) =>
  locale.toLowerCase().startsWith('ru') ? { lang: 'ru', t: TEXT.ru } : { lang: 'en', t: TEXT.en };

function page(lang: string, title: string, body: string): string {
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}

function confirmPage(target: Unsubscribed): string {
  const { lang, t } = textFor(target.locale);
  const address = escapeHtml(target.address);
  return page(
    lang,
    t.title,
    `<p>${t.ask(escapeHtml(target.category)).replace('{address}', address)}</p><form method="post"><p><label><input type="radio" name="scope" value="category" checked> ${t.category}</label><br><label><input type="radio" name="scope" value="all"> ${t.all}</label></p><button type="submit">${t.confirm}</button></form>`,
  );
}

function donePage(done: Unsubscribed): string {
  const { lang, t } = textFor(done.locale);
  const what = done.category === '*' ? t.everything : escapeHtml(done.category);
  return page(lang, t.done, `<p>${t.doneLine(what).replace('{address}', escapeHtml(done.address))}</p>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
