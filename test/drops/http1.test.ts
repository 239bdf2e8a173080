import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Http1Connection, Http1Server, prepareAnswer } from '../../src/drops/http1.ts';

/**
 * The contest port's minimal HTTP/1.1 server (src/drops/http1.ts), byte by byte: framing, pipelining,
 * bodies, limits and timeouts. The contest API over it is tested through a real HTTP client in
 * http-contract.test.ts and the other drops tests.
 */

const HELLO = prepareAnswer(200, 'hello');

let server: Http1Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server answering `hello`, or, for `/later`, after `delayMs`; `seen` collects method and target. */
async function start(
  options: { delayMs?: number; requestTimeoutMs?: number; keepAliveTimeoutMs?: number } = {},
) {
  const seen: string[] = [];
  server = new Http1Server(
    (conn: Http1Connection, method: string, target: string) => {
      seen.push(`${method} ${target}`);
      if (target.startsWith('/later')) {
        setTimeout(() => conn.answer(prepareAnswer(200, `late ${target}`)), options.delayMs ?? 50);
      } else {
        conn.answer(HELLO);
      }
    },
    { requestTimeoutMs: options.requestTimeoutMs, keepAliveTimeoutMs: options.keepAliveTimeoutMs },
  );
  await server.listen(0, '127.0.0.1');
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { port, seen };
}

/** Sends `input` (in the given pieces) and collects everything until the server closes or `waitMs` passes. */
async function exchange(
  port: number,
  pieces: string[],
  waitMs = 300,
): Promise<{ text: string; closed: boolean }> {
  const socket: Socket = connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (const piece of pieces) {
    socket.write(piece);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.race([
    ended.then(() => (closed = true)),
    new Promise((resolve) => setTimeout(resolve, waitMs)),
  ]);
  socket.destroy();
  return { text, closed };
}

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

describe('the contest port HTTP/1.1 server', () => {
  it('answers with status, date, type and length, and keeps the connection', async () => {
    const { port, seen } = await start();
    const { text, closed } = await exchange(port, [
      'POST /checkout?user_id=1&id=2 HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    expect(text).toMatch(
      /^HTTP\/1\.1 200 OK\r\ndate: .+ GMT\r\ncontent-type: text\/plain; charset=utf-8\r\ncontent-length: 5\r\n\r\nhello$/,
    );
    expect(closed).toBe(false);
    expect(seen).toEqual(['POST /checkout?user_id=1&id=2']);
  });

  it('answers pipelined requests in order, an async one before the sync ones behind it', async () => {
    const { port, seen } = await start({ delayMs: 80 });
    const { text } = await exchange(port, [
      'POST /later?1 HTTP/1.1\r\n\r\nPOST /now HTTP/1.1\r\n\r\nPOST /later?2 HTTP/1.1\r\n\r\nPOST /now2 HTTP/1.1\r\n\r\n',
    ]);
    const bodies = text
      .split('\r\n\r\n')
      .slice(1)
      .map((part) => part.split('HTTP/1.1')[0]);
    expect(bodies).toEqual(['late /later?1', 'hello', 'late /later?2', 'hello']);
    expect(seen).toEqual(['POST /later?1', 'POST /now', 'POST /later?2', 'POST /now2']);
  });

  it('reads requests split at any byte, and skips a body with a Content-Length', async () => {
    const { port, seen } = await start();
    const request = 'POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdePOST /b HTTP/1.1\r\n\r\n';
    const { text } = await exchange(port, [...request]);
    expect(statuses(text)).toEqual([200, 200]);
    expect(seen).toEqual(['POST /a', 'POST /b']);
  });

  it('closes after the answer on Connection: close, and for HTTP/1.0 unless keep-alive', async () => {
    const { port } = await start();
    const close = await exchange(port, [
      'POST /a HTTP/1.1\r\nConnection: close\r\n\r\nPOST /b HTTP/1.1\r\n\r\n',
    ]);
    expect(statuses(close.text)).toEqual([200]);
    expect(close.text).toContain('connection: close\r\n');
    expect(close.closed).toBe(true);

    const old = await exchange(port, ['POST /a HTTP/1.0\r\n\r\n']);
    expect(old.closed).toBe(true);

    const kept = await exchange(port, [
      'POST /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nPOST /b HTTP/1.0\r\n\r\n',
    ]);
    expect(kept.text).toContain('connection: keep-alive\r\n');
    expect(statuses(kept.text)).toEqual([200, 200]);
    expect(kept.closed).toBe(true);
  });

  it('sends no body to HEAD', async () => {
    const { port } = await start();
    const { text } = await exchange(port, ['HEAD /a HTTP/1.1\r\n\r\n']);
    expect(text).toMatch(/content-length: 5\r\n\r\n$/);
  });

  it.each([
    ['a bare LF', 'POST /a HTTP/1.1\nHost: x\n\n', 400],
    ['no version', 'POST /a\r\n\r\n', 400],
    ['another version', 'POST /a HTTP/2.0\r\n\r\n', 505],
    ['a space before the colon', 'POST /a HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc', 400],
    ['a folded header', 'POST /a HTTP/1.1\r\nX-A: 1\r\n  2\r\n\r\n', 400],
    ['two Content-Lengths', 'POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', 400],
    ['a bad Content-Length', 'POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400],
    ['a chunked body', 'POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 411],
    [
      'chunked and a length',
      'POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc',
      400,
    ],
    ['a body over 1 MiB', 'POST /a HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n', 413],
    ['a head over 16 KiB', `POST /a HTTP/1.1\r\nX-Big: ${'x'.repeat(17_000)}\r\n\r\n`, 431],
  ])('refuses %s and closes the connection', async (_name, request, status) => {
    const { port, seen } = await start();
    const { text, closed } = await exchange(port, [request, 'POST /next HTTP/1.1\r\n\r\n']);
    expect(statuses(text)).toEqual([status]);
    expect(text).toContain('connection: close\r\n');
    expect(closed).toBe(true);
    expect(seen).toEqual([]);
  });

  it('drops a request that does not arrive in time, and an idle keep-alive connection', async () => {
    const { port } = await start({ requestTimeoutMs: 300, keepAliveTimeoutMs: 300 });
    const slow = await exchange(port, ['POST /a HTTP/1.1\r\n'], 2_500);
    expect(slow).toEqual({ text: '', closed: true });
    const idle = await exchange(port, ['POST /a HTTP/1.1\r\n\r\n'], 2_500);
    expect(statuses(idle.text)).toEqual([200]);
    expect(idle.closed).toBe(true);
  });
});
