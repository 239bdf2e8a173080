import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { recordProtectedRoute, requiredPermissionOf } from '../auth/access.ts';
import type { BoxofficeModule, Platform } from '../context.ts';
import { traceHttpRequests, tracingActive } from '../tracing/index.ts';
import { clientErrorHandler } from './client-error.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { type HealthCheck, registerHealth } from './health.ts';
import { registerMetrics } from './metrics.ts';
import { requestId } from './request-id.ts';
import { SECURITY_HEADERS } from './security-headers.ts';
import { textGuard } from './text-guard.ts';
import { trustProxyOf } from './trust-proxy.ts';
import type { HttpApp } from './types.ts';

export interface HttpAppOptions {
  platform: Platform;
  modules: BoxofficeModule[];
  healthChecks: Record<string, HealthCheck>;
}

/** The HTTP face of the platform: shared plugins first, then each module in its own scope. */
export async function buildHttpApp({ platform, modules, healthChecks }: HttpAppOptions): Promise<HttpApp> {
  const { config, logger } = platform;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines cost real throughput at tens of thousands of requests a second:
    // completed requests are logged at debug below, failures at error by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: trustProxyOf(config.TRUST_PROXY),
    requestIdHeader: false,
    genReqId: requestId,
    return503OnClosing: true,
    clientErrorHandler,
    forceCloseConnections: 'idle',
    ajv: {
      customOptions: { allErrors: false, coerceTypes: 'array', removeAdditional: true, useDefaults: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as HttpApp;

  // Once shutdown starts, each response closes its keep-alive socket, so the server can finish
  // the requests in flight and then stop instead of waiting for clients to hang up.
  // First, so the request's span is active in every hook after it.
  if (tracingActive()) traceHttpRequests(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Hot-path hooks take a callback rather than returning a promise: measurably cheaper per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  // Protected routes are recorded as they register, so tests and docs can list who may call what.
  // Their OpenAPI entries say how to authenticate and what permission they need.
  app.addHook('onRoute', (route) => {
    const requires = requiredPermissionOf(route.preValidation, route.preHandler);
    if (!requires) return;
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') recordProtectedRoute(platform, { method, url: route.url, requires });
    }
    route.schema ??= {};
    const schema = route.schema as { security?: unknown; description?: string };
    schema.security ??= [{ bearerAuth: [] }, { staffSession: [] }];
    const needs = requires === 'any' ? 'any signed-in principal' : `permission \`${requires}\``;
    schema.description = `${schema.description ? `${schema.description}\n\n` : ''}Requires ${needs}.`;
  });
  // Every module's routes, present and future: no text PostgreSQL cannot store reaches a handler.
  app.addHook('preHandler', textGuard);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(cors, {
    origin: config.CORS_ORIGINS === '*' ? '*' : config.CORS_ORIGINS.split(',').map((o) => o.trim()),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'boxoffice',
        version: '0.1.0',
        description:
          'High-load ticketing platform: box office, flash-sale drops, notifications, files, identity.',
      },
      // Routes name these in `schema.security`; every name used must be declared here.
      components: {
        securitySchemes: {
          basicAuth: { type: 'http', scheme: 'basic' },
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          staffSession: { type: 'apiKey', in: 'cookie', name: 'boxoffice_session' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  registerMetrics(app, platform.metrics, platform.db, config.DB_POOL_MAX);
  registerHealth(app, healthChecks);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const module of modules) {
    if (module.routes)
      await app.register(async (scope) => module.routes!(scope, platform), { name: module.name });
  }
  await app.ready();
  return app;
}
