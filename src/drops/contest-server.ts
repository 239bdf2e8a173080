import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
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

/**
 * Answers of the contest port by route and status: plain counts on the hot path, read into a Prometheus
 * counter only when /metrics is scraped (the Fastify routes have `http_requests_total` instead).
 */
class AnswerCounts {
  readonly #byRoute = new Map<string, Map<number, number>>();

  route(name: string): Map<number, number> {
    let counts = this.#byRoute.get(name);
    if (!counts) {
      counts = new Map();
      this.#byRoute.set(name, counts);
    }
    return counts;
  }

  register(registry: Registry): void {
    const byRoute = this.#byRoute;
    new Counter({
      name: 'drops_contest_requests_total',
      help: 'Requests answered on the drops contest port, by route and status',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [route, counts] of byRoute) {
          for (const [status, n] of counts) this.inc({ route, status: String(status) }, n);
        }
      },
    });
  }
}

function count(counts: Map<number, number>, status: number): void {
  counts.set(status, (counts.get(status) ?? 0) + 1);
}

export async function startContestServer(
  service: DropsService,
  options: { host: string; port: number; logger: Logger; metrics?: Registry },
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
  const answers = new AnswerCounts();
  if (options.metrics) answers.register(options.metrics);
  const checkouts = answers.route('/checkout');
  const purchases = answers.route('/purchase');
  const others = answers.route('other');

  const answer = (
    conn: Http1Connection,
    counts: Map<number, number>,
    prepared: Http1Answer,
    close = false,
  ) => {
    count(counts, prepared.status);
    conn.answer(prepared, close);
  };
  const fail = (conn: Http1Connection, counts: Map<number, number>, failure: DropFailure) =>
    answer(conn, counts, failures.get(failure)!);
  const sendCode = (conn: Http1Connection, code: string) => {
    count(checkouts, 200);
    conn.answerWith(200, CODE_HEADERS, code);
  };
  const done = () => {
    inFlight--;
    if (inFlight === 0) drained?.();
  };
  const crashed = (conn: Http1Connection, counts: Map<number, number>, error: unknown) => {
    log.error({ err: error }, 'drops contest request failed');
    fail(conn, counts, Failures.notPersisted);
  };

  const onCheckout = (query: string, conn: Http1Connection) => {
    const parsed = parseCheckoutQuery(query, items, badItem);
    if (!parsed.ok) {
      service.rejectCheckout(parsed.failure, parsed.user, parsed.item);
      return fail(conn, checkouts, parsed.failure);
    }
    const result = service.checkout(parsed.user, parsed.item);
    if (!isPromise(result)) {
      return typeof result === 'string' ? sendCode(conn, result) : fail(conn, checkouts, result);
    }
    inFlight++;
    result
      .then((r) => (typeof r === 'string' ? sendCode(conn, r) : fail(conn, checkouts, r)))
      .catch((error: unknown) => crashed(conn, checkouts, error))
      .finally(done);
  };

  const onPurchase = (query: string, conn: Http1Connection) => {
    const parsed = parsePurchaseQuery(query);
    if (!parsed.ok) return fail(conn, purchases, parsed.failure);
    const result = service.purchase(parsed.code);
    if (!isPromise(result)) {
      return result === true ? answer(conn, purchases, OK) : fail(conn, purchases, result);
    }
    inFlight++;
    result
      .then((r) => (r === true ? answer(conn, purchases, OK) : fail(conn, purchases, r)))
      .catch((error: unknown) => crashed(conn, purchases, error))
      .finally(done);
  };

  // A client that opens a socket and sends nothing (or too slowly) is dropped after 10 s; an idle
  // keep-alive connection after 5 s (node:http's default).
  const server = new Http1Server(
    (conn, method, target) => {
      const q = target.indexOf('?');
      const path = q === -1 ? target : target.slice(0, q);
      const query = q === -1 ? '' : target.slice(q + 1);
      const route = path === '/checkout' ? onCheckout : path === '/purchase' ? onPurchase : undefined;
      const counts = route === onCheckout ? checkouts : route === onPurchase ? purchases : others;
      if (draining) return answer(conn, counts, DRAINING, true);
      if (!route) return answer(conn, others, NOT_FOUND);
      if (method !== 'POST') return answer(conn, counts, WRONG_METHOD);
      try {
        route(query, conn);
      } catch (error) {
        crashed(conn, counts, error);
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
