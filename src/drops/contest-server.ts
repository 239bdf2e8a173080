import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isPromise } from './authority.ts';
import { type DropFailure, Failures } from './errors.ts';
import { parseCheckoutQuery, parsePurchaseQuery } from './params.ts';
import type { DropsService } from './service.ts';

/**
 * The contest API on its own port, on a bare `node:http` server: the whole hot path is the service call
 * plus a hand-parsed query string and prebuilt headers. (Fastify's routing, hooks and reply object cost
 * about a fifth of the throughput at this request rate; the same routes on the main port go through it.)
 *
 * Answers are plain text: 200 with the checkout code (checkout) or `OK` (purchase); otherwise the
 * failure's message, with the statuses of the contest rules (400, 409, 503 while shutting down).
 */

const TEXT = 'text/plain; charset=utf-8';
const CODE_HEADERS = ['content-type', TEXT, 'content-length', '36'];
const OK_BODY = 'OK';
const OK_HEADERS = ['content-type', TEXT, 'content-length', '2'];

interface Prepared {
  body: string;
  headers: string[];
}

function prepare(message: string, close = false): Prepared {
  const body = `${message}\n`;
  const headers = ['content-type', TEXT, 'content-length', String(Buffer.byteLength(body))];
  if (close) headers.push('connection', 'close');
  return { body, headers };
}

const NOT_FOUND = prepare('not found: the contest API is POST /checkout and POST /purchase');
const WRONG_METHOD = prepare('use POST');
const DRAINING = prepare(Failures.draining.message, true);

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
  const failures = new Map<DropFailure, Prepared>();
  for (const failure of [...Object.values(Failures), service.badItem]) {
    failures.set(failure, prepare(failure.message));
  }
  const items = service.settings.items;
  const badItem = service.badItem;
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const fail = (res: ServerResponse, failure: DropFailure) => {
    const prepared = failures.get(failure)!;
    res.writeHead(failure.status, prepared.headers);
    res.end(prepared.body);
  };
  const done = () => {
    inFlight--;
    if (inFlight === 0) drained?.();
  };
  const crashed = (res: ServerResponse, error: unknown) => {
    log.error({ err: error }, 'drops contest request failed');
    if (!res.headersSent) fail(res, Failures.notPersisted);
    else res.destroy();
  };

  const onCheckout = (query: string, res: ServerResponse) => {
    const parsed = parseCheckoutQuery(query, items, badItem);
    if (!parsed.ok) {
      service.rejectCheckout(parsed.failure, parsed.user, parsed.item);
      return fail(res, parsed.failure);
    }
    const answer = service.checkout(parsed.user, parsed.item);
    if (!isPromise(answer)) return typeof answer === 'string' ? sendCode(res, answer) : fail(res, answer);
    inFlight++;
    answer
      .then((result) => (typeof result === 'string' ? sendCode(res, result) : fail(res, result)))
      .catch((error: unknown) => crashed(res, error))
      .finally(done);
  };

  const onPurchase = (query: string, res: ServerResponse) => {
    const parsed = parsePurchaseQuery(query);
    if (!parsed.ok) return fail(res, parsed.failure);
    const answer = service.purchase(parsed.code);
    if (!isPromise(answer)) return answer === true ? sendOk(res) : fail(res, answer);
    inFlight++;
    answer
      .then((result) => (result === true ? sendOk(res) : fail(res, result)))
      .catch((error: unknown) => crashed(res, error))
      .finally(done);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // No req.resume(): when the answer is sent, node:http itself drains a body nobody read (the contest
    // sends none), keeping the connection usable; resuming every request would cost a tick each.
    if (draining) {
      res.writeHead(503, DRAINING.headers);
      res.end(DRAINING.body);
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const route = path === '/checkout' ? onCheckout : path === '/purchase' ? onPurchase : undefined;
    if (!route) {
      res.writeHead(404, NOT_FOUND.headers);
      res.end(NOT_FOUND.body);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, [...WRONG_METHOD.headers, 'allow', 'POST']);
      res.end(WRONG_METHOD.body);
      return;
    }
    try {
      route(query, res);
    } catch (error) {
      crashed(res, error);
    }
  });
  // The defaults (5 s keep-alive, 300 s per request) suit a load balancer in front; a client that opens a
  // socket and sends nothing is dropped after 10 s.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `drops: cannot serve the contest API on ${options.host}:${options.port} (DROPS_CONTEST_HOST, DROPS_CONTEST_PORT): ${error.code ?? error.message}`,
          { cause: error },
        ),
      );
    server.once('error', failed);
    server.listen(options.port, options.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
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
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };

  function sendCode(res: ServerResponse, code: string) {
    res.writeHead(200, CODE_HEADERS);
    res.end(code);
  }

  function sendOk(res: ServerResponse) {
    res.writeHead(200, OK_HEADERS);
    res.end(OK_BODY);
  }
}
