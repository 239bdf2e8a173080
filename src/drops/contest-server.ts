import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isPromise } from './authority.ts';
import { type DropFailure, Failures } from './errors.ts';
import { type Http1Answer, type Http1Connection, Http1Server, prepareAnswer } from './http1.ts';
import { parseCheckoutQuery, parsePurchaseQuery } from './params.ts';
import type { DropsService } from './service.ts';

/**
 * The contest API on its own port, on a minimal HTTP/1.1 server over `node:net` (`http1.ts`): the whole
 * hot path is the service call plus a hand-parsed request head and query string and one prebuilt
 * answer. (Fastify's routing, hooks and reply object cost about a fifth of the throughput at this
 * request rate, and `node:http` itself about as much as all the contest's work; the same routes on the
 * main port go through Fastify.)
 *
 * Answers are plain text: 200 with the checkout code (checkout) or `OK` (purchase); otherwise the
 * failure's message, with the statuses of the contest rules (400, 409, 503 while shutting down).
 */

const CODE_HEADERS = 'content-type: text/plain; charset=utf-8\r\ncontent-length: 36\r\n';
const OK = prepareAnswer(200, 'OK');

function prepare(status: number, message: string, extra: [string, string][] = []): Http1Answer {
  return prepareAnswer(status, `${message}\n`, extra);
}

const NOT_FOUND = prepare(404, 'not found: the contest API is POST /checkout and POST /purchase');
const WRONG_METHOD = prepare(405, 'use POST', [['allow', 'POST']]);
const DRAINING = prepare(503, Failures.draining.message);

export interface ContestServer {
  /** `http://host:port` */
  readonly url: string;
  /** Answers 503 to new requests while those in flight finish (up to `timeoutMs`), then closes every socket. */
  close(timeoutMs?: number): Promise<void>;
}

export async function startContestServer(
  service: DropsService,
  options: { host: string; port: number; logger: Logger },
): Promise<ContestServer> {
  const log = options.logger.child({ component: 'drops-contest' });
  const failures = new Map<DropFailure, Http1Answer>();
  for (const failure of [...Object.values(Failures), service.badItem]) {
    failures.set(failure, prepare(failure.status, failure.message));
  }
  const items = service.settings.items;
  const badItem = service.badItem;
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const fail = (conn: Http1Connection, failure: DropFailure) => conn.answer(failures.get(failure)!);
  const sendCode = (conn: Http1Connection, code: string) => conn.answerWith(200, CODE_HEADERS, code);
  const done = () => {
    inFlight--;
    if (inFlight === 0) drained?.();
  };
  const crashed = (conn: Http1Connection, error: unknown) => {
    log.error({ err: error }, 'drops contest request failed');
    fail(conn, Failures.notPersisted);
  };

  const onCheckout = (query: string, conn: Http1Connection) => {
    const parsed = parseCheckoutQuery(query, items, badItem);
    if (!parsed.ok) {
      service.rejectCheckout(parsed.failure, parsed.user, parsed.item);
      return fail(conn, parsed.failure);
    }
    const answer = service.checkout(parsed.user, parsed.item);
    if (!isPromise(answer)) return typeof answer === 'string' ? sendCode(conn, answer) : fail(conn, answer);
    inFlight++;
    answer
      .then((result) => (typeof result === 'string' ? sendCode(conn, result) : fail(conn, result)))
      .catch((error: unknown) => crashed(conn, error))
      .finally(done);
  };

  const onPurchase = (query: string, conn: Http1Connection) => {
    const parsed = parsePurchaseQuery(query);
    if (!parsed.ok) return fail(conn, parsed.failure);
    const answer = service.purchase(parsed.code);
    if (!isPromise(answer)) return answer === true ? conn.answer(OK) : fail(conn, answer);
    inFlight++;
    answer
      .then((result) => (result === true ? conn.answer(OK) : fail(conn, result)))
      .catch((error: unknown) => crashed(conn, error))
      .finally(done);
  };

  // A client that opens a socket and sends nothing (or too slowly) is dropped after 10 s; an idle
  // keep-alive connection after 5 s (node:http's default).
  const server = new Http1Server(
    (conn, method, target) => {
      if (draining) return conn.answer(DRAINING, true);
      const q = target.indexOf('?');
      const path = q === -1 ? target : target.slice(0, q);
      const query = q === -1 ? '' : target.slice(q + 1);
      const route = path === '/checkout' ? onCheckout : path === '/purchase' ? onPurchase : undefined;
      if (!route) return conn.answer(NOT_FOUND);
      if (method !== 'POST') return conn.answer(WRONG_METHOD);
      try {
        route(query, conn);
      } catch (error) {
        crashed(conn, error);
      }
    },
    { requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 },
  );

  try {
    await server.listen(options.port, options.host);
  } catch (error) {
    throw new Error(
      `drops: cannot serve the contest API on ${options.host}:${options.port} (DROPS_CONTEST_HOST, DROPS_CONTEST_PORT): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { cause: error },
    );
  }
  const address = server.server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${address.port}`;

  return {
    url,
    async close(timeoutMs = 5_000) {
      // Still listening while the requests in flight finish: new ones get a clean 503 (and
      // `connection: close`) rather than a refused connection. Then the listener and every socket close.
      draining = true;
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      await server.close();
    },
  };
}
