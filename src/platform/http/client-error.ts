import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { statusCodeName } from './errors.ts';

/**
 * Answers requests that never reach a route because Node's HTTP parser refused them, in the
 * platform's error shape and saying why (Fastify's default says only "Client Error").
 */
export function clientErrorHandler(
  this: FastifyInstance,
  error: Error & { code?: string; reason?: string },
  socket: Socket,
) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let message = `Malformed HTTP request: ${error.reason ?? error.message}`;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'The request was not received in time';
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'The request headers are too large';
  } else if (error.code === 'HPE_INVALID_URL') {
    message += ' (characters outside ASCII must be percent-encoded in a URL)';
  }
  this.log.debug({ err: error }, 'malformed HTTP request');
  const body = JSON.stringify({ code: statusCodeName(status), message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
