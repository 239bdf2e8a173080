import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type FaultBox, FaultError, JSON_HEADERS, parseFailure, readBody } from './faults.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { ...JSON_HEADERS, ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

/** Starts an HTTP server on host:port running `handler`; stop() closes it and every open connection. */
export async function listenHttp(
  host: string,
  port: number,
  handler: Handler,
): Promise<{ server: Server; url: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    handler(req, res, url).catch((error: unknown) => {
      if (res.headersSent || req.socket.destroyed) return;
      const status = error instanceof FaultError || error instanceof SyntaxError ? 400 : 500;
      sendJson(res, status, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    server,
    url,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * The admin routes every peer shares: `POST /__sim/config` sets (or with `null` clears) the lasting
 * failure, `GET` shows it; `POST /__sim/faults` queues a one-shot fault; `POST /__sim/reset` forgets
 * what was kept and the queued faults, when the peer keeps anything. True when it answered.
 */
export async function handleSimAdmin<F extends { mode: string }>(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  peer: { kind: Parameters<typeof parseFailure>[0]; faults: FaultBox<F>; forget?: () => void },
): Promise<boolean> {
  const { kind, faults } = peer;
  const body = async () => JSON.parse((await readBody(req, 64 * 1024)).toString() || 'null') as unknown;
  if (path === '/__sim/config' && req.method === 'POST') {
    const value = await body();
    faults.behaviour = value === null ? null : parseFailure<F>(kind, value);
    sendJson(res, 200, { behaviour: faults.behaviour });
  } else if (path === '/__sim/config' && req.method === 'GET') {
    sendJson(res, 200, { behaviour: faults.behaviour });
  } else if (path === '/__sim/faults' && req.method === 'POST') {
    faults.inject(parseFailure<F>(kind, await body()));
    sendJson(res, 202, { queued: true });
  } else if (path === '/__sim/reset' && req.method === 'POST' && peer.forget) {
    peer.forget();
    faults.clear();
    sendJson(res, 200, { reset: true });
  } else return false;
  return true;
}
