import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracer } from './tracing.ts';

const kTrace = Symbol('boxoffice.trace');
type TracedRequest = FastifyRequest & { [kTrace]?: { span: Span; context: Context } };

/**
 * A server span per request, continuing the caller's W3C `traceparent`. The span is made active
 * for the rest of the request: at `onRequest`, and again at `preValidation` (after the body is read,
 * from socket events), so that no body read can lose it. Registered only when tracing is on.
 */
export function traceHttpRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request: TracedRequest, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer().startSpan(
      request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': request.url.split('?')[0]!,
          'client.address': request.ip,
          'http.request.id': request.id,
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    request[kTrace] = { span, context: active };
    context.with(active, done);
  });
  app.addHook('preValidation', (request: TracedRequest, _reply, done) => {
    const traced = request[kTrace];
    if (traced) context.with(traced.context, done);
    else done();
  });
  app.addHook('onResponse', (request: TracedRequest, reply, done) => {
    const traced = request[kTrace];
    if (traced) {
      const route = request.routeOptions.url;
      if (route) {
        traced.span.updateName(`${request.method} ${route}`);
        traced.span.setAttribute('http.route', route);
      }
      traced.span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) traced.span.setStatus({ code: SpanStatusCode.ERROR });
      traced.span.end();
      request[kTrace] = undefined;
    }
    done();
  });
  app.addHook('onRequestAbort', (request: TracedRequest, done) => {
    const traced = request[kTrace];
    if (traced) {
      traced.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the request' });
      traced.span.end();
      request[kTrace] = undefined;
    }
    done();
  });
}
