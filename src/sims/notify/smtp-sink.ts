import type { AddressInfo, Socket } from 'node:net';
import { type AddressObject, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { FaultBox, parseFailure, type Scoped, type SmtpFailure, sleep } from './faults.ts';
import { handleSimAdmin, listenHttp, sendJson } from './http-peer.ts';

export interface SmtpSinkOptions {
  host?: string;
  /** SMTP port; default 0 (any free port). */
  smtpPort?: number;
  /** HTTP inbox port; default 0. */
  httpPort?: number;
  /** Largest message accepted (bytes); default 10 MiB. */
  sizeLimit?: number;
  /** Messages kept (oldest dropped first); default 10,000. */
  capacity?: number;
  /** A failure for every matching message (null: none). */
  behaviour?: Scoped<SmtpFailure> | null;
}

export interface SinkMessageSummary {
  id: string;
  from: string;
  to: string[];
  subject: string;
  date: string;
  headers: Record<string, string>;
}
export interface SinkMessage extends SinkMessageSummary {
  text: string;
  html: string | null;
  /** The raw RFC 5322 message. */
  raw: string;
}

export interface SmtpSink {
  /** `smtp://host:port` */
  readonly smtpUrl: string;
  readonly smtpPort: number;
  /** `http://host:port`: the Mailpit-like inbox API. */
  readonly inboxUrl: string;
  messages(filter?: { to?: string; limit?: number }): SinkMessage[];
  message(id: string): SinkMessage | undefined;
  clear(): void;
  /** Sets (or with null clears) the failure for every matching message. */
  configure(behaviour: Scoped<SmtpFailure> | null): void;
  /** Queues a failure for the next matching connection / recipient / message only. */
  inject(fault: Scoped<SmtpFailure>): void;
  stop(): Promise<void>;
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

const addresses = (value: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(value) ? value : value ? [value] : []).flatMap((a) =>
    a.value.map((v) => v.address ?? '').filter(Boolean),
  );

/**
 * A local SMTP server that accepts every message (no auth, no STARTTLS), keeps it in memory and shows it
 * over HTTP like Mailpit: `GET /api/messages?to=&limit=`, `GET /api/messages/{id}`, `DELETE /api/messages`;
 * `POST /__sim/config` (a failure or null) and `POST /__sim/faults` (one-shot) script SMTP failures.
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const host = options.host ?? '127.0.0.1';
  const capacity = options.capacity ?? 10_000;
  const faults = new FaultBox<SmtpFailure>();
  faults.behaviour = options.behaviour ?? null;
  const store: SinkMessage[] = [];
  let nextId = 1;
  const sockets = new Map<number, Socket>();
  const socketOf = (session: SMTPServerSession) => sockets.get(session.remotePort);
  const cut = (session: SMTPServerSession) => {
    const socket = socketOf(session);
    if (socket) socket.resetAndDestroy();
  };

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: options.sizeLimit ?? 10 * 1024 * 1024,
    banner: 'boxoffice SMTP sink',
    logger: false,
    onConnect(session, callback) {
      const fault = faults.take(undefined, ['refuse']);
      if (fault) {
        cut(session);
        return;
      }
      callback();
    },
    onRcptTo(address, _session, callback) {
      const fault = faults.take(address.address, ['4xx', '5xx']);
      if (fault && (fault.mode === '4xx' || fault.mode === '5xx') && (fault.stage ?? 'rcpt') === 'rcpt') {
        const code = fault.code ?? (fault.mode === '4xx' ? 451 : 550);
        return callback(
          smtpError(fault.message ?? (code >= 500 ? 'Mailbox unavailable' : 'Try again later'), code),
        );
      }
      if (fault && fault !== faults.behaviour) faults.inject(fault); // a DATA-stage fault waits for DATA
      callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const recipients = session.envelope.rcptTo.map((r) => r.address);
      const pick = () => {
        for (const to of [...recipients, undefined]) {
          const fault = faults.take(to, ['4xx', '5xx', 'slow', 'cut']);
          if (fault) return fault;
        }
        return undefined;
      };
      const fault = pick();
      const chunks: Buffer[] = [];
      let cutDone = false;
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (fault?.mode === 'cut' && !cutDone) {
          cutDone = true;
          cut(session);
        }
      });
      stream.on('end', () => {
        void (async () => {
          if (fault?.mode === 'cut') return cut(session);
          if (stream.sizeExceeded) return callback(smtpError('Message exceeds the size limit', 552));
          if (fault?.mode === 'slow') await sleep(fault.delayMs);
          if (fault && (fault.mode === '4xx' || fault.mode === '5xx')) {
            const code = fault.code ?? (fault.mode === '4xx' ? 451 : 554);
            return callback(smtpError(fault.message ?? 'Message rejected', code));
          }
          const raw = Buffer.concat(chunks);
          const parsed = await simpleParser(raw);
          const headers: Record<string, string> = {};
          for (const line of parsed.headerLines) {
            const value = line.line.slice(line.line.indexOf(':') + 1).trim();
            const name = line.key.toLowerCase();
            headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
          }
          const message: SinkMessage = {
            id: String(nextId++),
            from: addresses(parsed.from)[0] ?? session.envelope.mailFrom?.toString() ?? '',
            to: recipients,
            subject: parsed.subject ?? '',
            date: (parsed.date ?? new Date()).toISOString(),
            headers,
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : null,
            raw: raw.toString('utf8'),
          };
          store.push(message);
          if (store.length > capacity) store.splice(0, store.length - capacity);
          callback(null, `Queued as ${message.id}`);
        })().catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
      });
    },
  });
  smtp.on('error', () => {});
  smtp.server.on('connection', (socket: Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    sockets.set(port, socket);
    socket.once('close', () => sockets.delete(port));
  });
  await new Promise<void>((resolve, reject) => {
    smtp.server.once('error', reject);
    smtp.listen(options.smtpPort ?? 0, host, () => resolve());
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const list = (filter: { to?: string; limit?: number } = {}) => {
    const to = filter.to?.toLowerCase();
    const found = store.filter((m) => !to || m.to.some((r) => r.toLowerCase() === to)).reverse();
    return found.slice(0, filter.limit ?? 50);
  };
  const summary = ({ text: _t, html: _h, raw: _r, ...rest }: SinkMessage): SinkMessageSummary => rest;

  const http = await listenHttp(host, options.httpPort ?? 0, async (req, res, url) => {
    const path = url.pathname;
    if (path === '/api/messages' && req.method === 'GET') {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const found = list({
        to: url.searchParams.get('to') ?? undefined,
        limit: Number.isFinite(limit) ? limit : 50,
      });
      return sendJson(res, 200, { total: store.length, count: found.length, messages: found.map(summary) });
    }
    if (path === '/api/messages' && req.method === 'DELETE') {
      store.length = 0;
      return sendJson(res, 200, { deleted: true });
    }
    const one = /^\/api\/messages\/([^/]+)$/.exec(path);
    if (one && req.method === 'GET') {
      const message = store.find((m) => m.id === one[1]);
      return message ? sendJson(res, 200, message) : sendJson(res, 404, { error: 'no such message' });
    }
    const forget = () => {
      store.length = 0;
    };
    if (await handleSimAdmin(req, res, path, { kind: 'smtp', faults, forget })) return;
    sendJson(res, 404, { error: 'not found' });
  });

  return {
    smtpUrl: `smtp://${host}:${smtpPort}`,
    smtpPort,
    inboxUrl: http.url,
    messages: (filter) => list(filter ?? { limit: capacity }),
    message: (id) => store.find((m) => m.id === id),
    clear: () => {
      store.length = 0;
    },
    configure: (behaviour) => {
      faults.behaviour = behaviour === null ? null : parseFailure<SmtpFailure>('smtp', behaviour);
    },
    inject: (fault) => faults.inject(parseFailure<SmtpFailure>('smtp', fault)),
    async stop() {
      for (const socket of sockets.values()) socket.destroy();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await http.stop();
    },
  };
}
