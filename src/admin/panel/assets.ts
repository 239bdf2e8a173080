import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { Logger } from 'pino';
import { ensureWebBuild } from '../../../scripts/web-build.mjs';
import type { HttpApp } from '../../platform/http/types.ts';
import { REPOSITORY_ROOT } from './location.ts';

/**
 * The panel's page policy: its own scripts only (no inline script, no eval), styles may be inline (the
 * template editor injects its own), images from itself and data/blob URLs (the seat map's export), calls
 * only to this origin, never framed. Email previews render in a sandboxed frame without scripts.
 */
export const PANEL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self' blob: data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The panel's build for the current sources, made now if there is none (about 1.5 s; longer on a busy
 * machine). Called before the HTTP app is built, so a slow build never runs into Fastify's plugin timeout.
 */
export function panelBuild(logger: Logger): Promise<string> {
  return ensureWebBuild(REPOSITORY_ROOT, (line) => logger.info(line));
}

/**
 * Serves the built panel under /admin: content-hashed assets from /admin/assets/ with a year's
 * `immutable` caching and their precompressed .br/.gz chosen by Accept-Encoding; every other path
 * under /admin is the single page (react-router draws the screen), never cached, so a deploy is seen
 * at the next load.
 */
export async function servePanel(app: HttpApp, dir: string): Promise<void> {
  const page = await readFile(join(dir, 'index.html'));

  await app.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: '/admin/assets/',
    preCompressed: true,
    immutable: true,
    maxAge: '365d',
    index: false,
    wildcard: true,
    schemaHide: true,
  });

  const sendPage = async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', PANEL_CSP)
      .header('x-frame-options', 'DENY')
      .send(page);
  app.get('/admin', { schema: { hide: true } }, sendPage);
  app.get('/admin/*', { schema: { hide: true } }, sendPage);
}
