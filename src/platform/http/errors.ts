import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * A failure the caller can act on. Domain code throws these with a stable machine-readable
 * code; they become an HTTP status in exactly one place, the error handler below.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The one error body of the platform's own routes. */
export interface ErrorBody {
  code: string;
  message: string;
  requestId: string;
  details?: unknown;
}

/** `Not Found` → `NOT_FOUND`: a readable code for errors that come without one. */
export function statusCodeName(status: number): string {
  return (STATUS_CODES[status] ?? 'Error').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

export function errorHandler(error: FastifyError | AppError, request: FastifyRequest, reply: FastifyReply) {
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  let body: ErrorBody;
  if (error instanceof AppError) {
    body = { code: error.code, message: error.message, requestId: request.id, details: error.details };
  } else if ((error as FastifyError).validation) {
    body = { code: 'VALIDATION_FAILED', message: error.message, requestId: request.id };
  } else if (status < 500) {
    // Fastify's own client errors (bad JSON, body too large, wrong media type…) say what was wrong.
    body = { code: statusCodeName(status), message: error.message, requestId: request.id };
  } else {
    request.log.error({ err: error }, 'request failed');
    body = {
      code: status === 503 ? 'UNAVAILABLE' : 'INTERNAL',
      message: status === 503 ? 'Service temporarily unavailable' : `Internal error; reference ${request.id}`,
      requestId: request.id,
    };
  }
  if (body.details === undefined) delete body.details;
  return reply.status(status).send(body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  const body: ErrorBody = {
    code: 'NOT_FOUND',
    message: `Route ${request.method} ${request.url.split('?')[0]} not found`,
    requestId: request.id,
  };
  return reply.status(404).send(body);
}
