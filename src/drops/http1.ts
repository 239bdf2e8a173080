import { createServer, type Server, type Socket } from 'node:net';

/**
 * A minimal HTTP/1.1 server on `node:net`, for the contest port only: requests without bodies that
 * are answered with a short plain-text body. It exists because at tens of thousands of requests a
 * second `node:http` itself (the llhttp binding, an IncomingMessage and a ServerResponse per request,
 * their events, the header assembly and a `writev` per answer) costs more than all the contest's own
 * work; this server does one string search per request and one `write` per answer. Measured on the
 * 2-core benchmark machine: a hello world on it answers about twice as many requests as the same hello
 * world on `node:http` (docs/drops.md, "Benchmark results").
 *
 * What it does, and does not:
 *
 * - request line `METHOD target HTTP/1.1` (or `HTTP/1.0`), header lines, CRLF line ends; a bare LF,
 *   whitespace before a colon, a malformed or repeated `Content-Length`, or `Content-Length` together
 *   with `Transfer-Encoding` is 400 and the connection closes (no request smuggling through framing);
 * - a body is skipped if it has a `Content-Length` (at most 1 MiB, else 413); a chunked body is
 *   refused with 411 Length Required (allowed by RFC 9112, §6.3) and the connection closes;
 * - keep-alive by default in HTTP/1.1; `Connection: close` (or HTTP/1.0 without `keep-alive`) closes
 *   after the answer; pipelined requests are answered in order, one at a time (the next is parsed only
 *   once the previous one is answered);
 * - a head larger than 16 KiB is 431; a request not complete within `requestTimeoutMs` (10 s) and an
 *   idle keep-alive connection after `keepAliveTimeoutMs` (5 s) are closed, checked once a second;
 * - a HEAD answer has no body; every answer has `Date`, `Content-Type` and `Content-Length`.
 */

export interface Http1Options {
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/** One prepared answer: everything but the status line's date-dependent part is built once. */
export interface Http1Answer {
  readonly status: number;
  /** Header lines after `Date`, each ending in CRLF, without the final empty line. */
  readonly headers: string;
  readonly body: string;
}

/**
 * The request handler. It must eventually call `conn.answer(...)` or `conn.answerCode(...)` exactly
 * once, synchronously or later; until then the connection reads no further request.
 */
export type Http1Handler = (conn: Http1Connection, method: string, target: string) => void;

const MAX_HEAD = 16 * 1024;
const MAX_BODY = 1024 * 1024;

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

const TEXT = 'text/plain; charset=utf-8';

/** An answer with a fixed body, its headers built once. */
export function prepareAnswer(
  status: number,
  body: string,
  extraHeaders: [string, string][] = [],
): Http1Answer {
  let headers = `content-type: ${TEXT}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  for (const [name, value] of extraHeaders) headers += `${name}: ${value}\r\n`;
  return { status, headers, body };
}

// The status line and `Date` header, rebuilt at most once a second (the date has a one-second resolution).
let dateSecond = -1;
let dateLine = '';
function dateHeader(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
}

const STATUS_LINES = new Map<number, string>(
  Object.keys(REASONS).map((s) => [Number(s), statusLine(Number(s))]),
);

const BAD_REQUEST = prepareAnswer(400, 'malformed HTTP request\n');
const LENGTH_REQUIRED = prepareAnswer(411, 'a request body needs a Content-Length\n');
const TOO_LARGE = prepareAnswer(413, 'request body too large\n');
const HEAD_TOO_LARGE = prepareAnswer(431, 'request head too large\n');
const BAD_VERSION = prepareAnswer(505, 'HTTP/1.1 or HTTP/1.0 only\n');

export class Http1Connection {
  readonly socket: Socket;
  readonly #server: Http1Server;
  #buffer = '';
  /** Body bytes of the current request still to skip. */
  #skip = 0;
  /** A request is being handled: further input waits. */
  #busy = false;
  #head = false;
  /** Close once the current answer is written. */
  #close = false;
  /** HTTP/1.0 keep-alive: the answer must say so. */
  #keepAlive10 = false;
  #closed = false;
  /** Inside `#read`: an answer given synchronously must not start a nested read. */
  #reading = false;
  /** Reading paused: the client does not read its answers, or pipelines far ahead of them. */
  #paused = false;
  /** When the request being read started, or when the connection became idle. */
  since = Date.now();

  constructor(socket: Socket, server: Http1Server) {
    this.socket = socket;
    this.#server = server;
  }

  /** Waiting for a request to start (not reading one, not answering one). */
  get idle(): boolean {
    return !this.#busy && this.#buffer.length === 0 && this.#skip === 0;
  }

  get busy(): boolean {
    return this.#busy;
  }

  onData(chunk: string): void {
    if (this.#closed) return;
    if (this.idle) this.since = Date.now();
    this.#buffer = this.#buffer.length === 0 ? chunk : this.#buffer + chunk;
    if (!this.#busy) this.#read();
    else if (this.#buffer.length > MAX_HEAD && !this.#paused) this.#pause();
  }

  #pause(): void {
    this.#paused = true;
    this.socket.pause();
  }

  #resume(): void {
    this.#paused = false;
    this.socket.resume();
  }

  /** Answers the current request with a prepared answer. */
  answer(prepared: Http1Answer, close = false): void {
    this.#send(prepared.status, prepared.headers, prepared.body, close);
  }

  /** Answers 200 with a short ASCII body (a checkout code), `content-length` given by the caller's headers. */
  answerWith(status: number, headers: string, body: string): void {
    this.#send(status, headers, body, false);
  }

  #send(status: number, headers: string, body: string, close: boolean): void {
    if (this.#closed || !this.#busy) return;
    this.#busy = false;
    if (close) this.#close = true;
    const connection = this.#close
      ? 'connection: close\r\n'
      : this.#keepAlive10
        ? 'connection: keep-alive\r\n'
        : '';
    const message = `${STATUS_LINES.get(status) ?? statusLine(status)}${dateHeader(Date.now())}${headers}${connection}\r\n${this.#head ? '' : body}`;
    if (this.#close) {
      this.#closed = true;
      this.socket.end(message);
      return;
    }
    const flushed = this.socket.write(message);
    this.since = Date.now();
    if (!flushed) {
      // The client is not reading its answers: stop reading its requests until it does.
      if (!this.#paused) this.#pause();
      this.socket.once('drain', () => {
        if (this.#paused) this.#resume();
      });
    } else if (this.#paused && this.socket.writableLength === 0) {
      this.#resume();
    }
    if (!this.#reading && this.#buffer.length > 0) this.#read();
  }

  /** Answers and closes at once (malformed input). */
  #reject(prepared: Http1Answer): void {
    this.#busy = true;
    this.#head = false;
    this.#buffer = '';
    this.answer(prepared, true);
  }

  #read(): void {
    this.#reading = true;
    try {
      this.#readLoop();
    } finally {
      this.#reading = false;
    }
  }

  #readLoop(): void {
    while (!this.#busy && !this.#closed) {
      if (this.#skip > 0) {
        if (this.#buffer.length <= this.#skip) {
          this.#skip -= this.#buffer.length;
          this.#buffer = '';
          return;
        }
        this.#buffer = this.#buffer.slice(this.#skip);
        this.#skip = 0;
      }
      const buffer = this.#buffer;
      if (buffer.length === 0) return;
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffer.length > MAX_HEAD) this.#reject(HEAD_TOO_LARGE);
        else if (buffer.indexOf('\n\n') !== -1) this.#reject(BAD_REQUEST);
        return;
      }
      if (end > MAX_HEAD) {
        this.#reject(HEAD_TOO_LARGE);
        return;
      }
      this.#buffer = buffer.length === end + 4 ? '' : buffer.slice(end + 4);
      this.#request(buffer, end);
    }
  }

  /** Parses the head `buffer[0, end)` and hands the request to the handler. */
  #request(buffer: string, end: number): void {
    let lineEnd = buffer.indexOf('\r\n');
    if (lineEnd > end || lineEnd === -1) lineEnd = end;
    const sp1 = buffer.indexOf(' ');
    const sp2 = sp1 === -1 ? -1 : buffer.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 === -1 || sp2 >= lineEnd || sp2 === sp1 + 1) {
      this.#reject(BAD_REQUEST);
      return;
    }
    const version = buffer.slice(sp2 + 1, lineEnd);
    let http10 = false;
    if (version !== 'HTTP/1.1') {
      if (version === 'HTTP/1.0') http10 = true;
      else if (version.startsWith('HTTP/') && version.length === 8) {
        this.#reject(BAD_VERSION);
        return;
      } else {
        this.#reject(BAD_REQUEST);
        return;
      }
    }

    let contentLength = -1;
    let chunked = false;
    let close = http10;
    let keepAlive10 = false;
    let pos = lineEnd + 2;
    while (pos < end) {
      let eol = buffer.indexOf('\r\n', pos);
      if (eol === -1 || eol > end) eol = end;
      const colon = buffer.indexOf(':', pos);
      if (colon <= pos || colon > eol) {
        this.#reject(BAD_REQUEST);
        return;
      }
      const last = buffer.charCodeAt(colon - 1);
      const first = buffer.charCodeAt(pos);
      if (last === 32 || last === 9 || first === 32 || first === 9) {
        this.#reject(BAD_REQUEST);
        return;
      }
      const nameLength = colon - pos;
      // Only the framing and connection headers matter here; the others are skipped unread.
      if (nameLength === 14 || nameLength === 10 || nameLength === 17) {
        const name = buffer.slice(pos, colon).toLowerCase();
        if (name === 'content-length') {
          const value = buffer.slice(colon + 1, eol).trim();
          if (contentLength !== -1 || !/^[0-9]{1,16}$/.test(value)) {
            this.#reject(BAD_REQUEST);
            return;
          }
          contentLength = Number(value);
        } else if (name === 'transfer-encoding') {
          chunked = true;
        } else if (name === 'connection') {
          const value = buffer.slice(colon + 1, eol).toLowerCase();
          if (value.includes('close')) close = true;
          else if (http10 && value.includes('keep-alive')) {
            close = false;
            keepAlive10 = true;
          }
        }
      }
      pos = eol + 2;
    }
    if (chunked) {
      this.#reject(contentLength === -1 ? LENGTH_REQUIRED : BAD_REQUEST);
      return;
    }
    if (contentLength > MAX_BODY) {
      this.#reject(TOO_LARGE);
      return;
    }
    if (contentLength > 0) this.#skip = contentLength;

    this.#busy = true;
    this.#close = close;
    this.#keepAlive10 = keepAlive10;
    const method = buffer.slice(0, sp1);
    this.#head = method === 'HEAD';
    this.#server.handle(this, method, buffer.slice(sp1 + 1, sp2));
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
  }

  /** The socket closed (either side): an answer still to come is dropped. */
  onClose(): void {
    this.#closed = true;
  }
}

export class Http1Server {
  readonly server: Server;
  readonly #handler: Http1Handler;
  readonly #connections = new Set<Http1Connection>();
  readonly #requestTimeoutMs: number;
  readonly #keepAliveTimeoutMs: number;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(handler: Http1Handler, options: Http1Options = {}) {
    this.#handler = handler;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 5_000;
    this.server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  handle(conn: Http1Connection, method: string, target: string): void {
    this.#handler(conn, method, target);
  }

  #accept(socket: Socket): void {
    const conn = new Http1Connection(socket, this);
    this.#connections.add(conn);
    // latin1: one char per byte, the cheapest decoding; request heads are ASCII (anything else is
    // refused by the parsers downstream).
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => conn.onData(chunk));
    socket.on('error', () => {}); // a client reset; 'close' follows
    socket.on('close', () => {
      conn.onClose();
      this.#connections.delete(conn);
    });
    this.#sweeper ??= setInterval(() => this.#sweep(), 1000).unref();
  }

  /** Closes connections whose request is too slow to arrive or that stayed idle too long. */
  #sweep(): void {
    const now = Date.now();
    for (const conn of this.#connections) {
      if (conn.busy) continue;
      const limit = conn.idle ? this.#keepAliveTimeoutMs : this.#requestTimeoutMs;
      if (now - conn.since > limit) conn.destroy();
    }
    if (this.#connections.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.#connections) conn.destroy();
    this.#connections.clear();
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await closed;
  }
}
