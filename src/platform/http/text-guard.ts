import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { findUnstorableText } from '../storable-text.ts';
import { AppError } from './errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false` for a route that parses its raw input itself and lets no such text through (drops' contest
     * routes, which must answer and record bad input exactly as the contest port does).
     */
    textGuard?: boolean;
  }
}

/**
 * A preHandler of the whole app: text PostgreSQL cannot store (a NUL, a lone surrogate) in the route
 * params, the query string or a parsed body (JSON or form, at any depth) is a 400 naming the field, before
 * any handler can send it to the database. It runs after authentication and validation, so an anonymous
 * caller still gets 401 first, and it checks what the handler will get (coerced, extra properties removed).
 * Bodies a route keeps as bytes (webhooks) are for that route to check. Basic credentials are checked where
 * they are decoded (identity's basic-auth.ts): 401. A route may opt out with `config: { textGuard: false }`.
 */
export function textGuard(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const problem =
    request.routeOptions.config.textGuard === false
      ? undefined
      : (findUnstorableText(request.params, 'params') ??
        findUnstorableText(request.query, 'querystring') ??
        findUnstorableText(request.body, 'body'));
  done(problem ? new AppError('VALIDATION_FAILED', 400, problem) : undefined);
}
