import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FaultError, JSON_HEADERS } from './faults.ts';

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
