import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webBuildDir } from '../../scripts/web-build.mjs';
import { adminModule } from '../../src/admin/index.ts';
import { identityModule } from '../../src/identity/index.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT } from '../helpers/process.ts';

/** The initial JavaScript of the panel (its entry and what the entry imports statically), gzip-9 bytes. */
const INITIAL_JS_BUDGET = 130 * 1024;

interface ManifestChunk {
  file: string;
  isEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
}

describe('admin panel assets: served by the platform under /admin', () => {
  let db: TestDatabase;
  let running: Running;
  let app: FastifyInstance;
  const dir = webBuildDir(ROOT);
  const manifest = JSON.parse(readFileSync(join(dir, '.vite', 'manifest.json'), 'utf8')) as Record<
    string,
    ManifestChunk
  >;
  const entry = Object.values(manifest).find((chunk) => chunk.isEntry)!;

  beforeAll(async () => {
    db = await createTestDatabase();
    running = await runRole('api', testConfig({ DATABASE_URL: db.url }), pino({ level: 'silent' }), [
      identityModule,
      adminModule,
    ]);
    app = running.app!;
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  it('answers every path under /admin with the single page, never cached, with its CSP', async () => {
    for (const url of ['/admin', '/admin/', '/admin/events/42', '/admin/templates/welcome?x=1']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['content-security-policy']).toContain("script-src 'self'");
      expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response.body).toContain(`/admin/${entry.file}`);
    }
  });

  it('serves hashed assets precompressed by Accept-Encoding, cached as immutable for a year', async () => {
    const url = `/admin/${entry.file}`;
    const plain = readFileSync(join(dir, entry.file));
    const br = await app.inject({ url, headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.statusCode).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.rawPayload.equals(readFileSync(join(dir, `${entry.file}.br`)))).toBe(true);
    const gzip = await app.inject({ url, headers: { 'accept-encoding': 'gzip' } });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    const identity = await app.inject({ url, headers: { 'accept-encoding': 'identity' } });
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.rawPayload.equals(plain)).toBe(true);
  });

  it('answers a missing asset 404, not the page (a stale chunk must fail loudly, not parse HTML)', async () => {
    const response = await app.inject({ url: '/admin/assets/index-DOESNOTEXIST.js' });
    expect(response.statusCode).toBe(404);
    expect(response.body).not.toContain('<!doctype html>');
  });

  it('keeps the panel out of the API description', async () => {
    const spec = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
  });

  it(`keeps the initial JavaScript within ${INITIAL_JS_BUDGET / 1024} KB gzip, the editor and charts out of it`, () => {
    const initial = new Set<string>();
    const visit = (key: string) => {
      const chunk = manifest[key]!;
      if (initial.has(chunk.file)) return;
      initial.add(chunk.file);
      for (const imported of chunk.imports ?? []) visit(imported);
    };
    visit(Object.keys(manifest).find((key) => manifest[key]!.isEntry)!);
    let bytes = 0;
    for (const file of initial) {
      const source = readFileSync(join(dir, file));
      bytes += gzipSync(source, { level: 9 }).length;
      // CodeMirror's and uPlot's own identifiers: they belong to the chunks of the screens that use them.
      expect(source.includes('cm-editor'), `${file} holds CodeMirror`).toBe(false);
      expect(source.includes('uplot'), `${file} holds uPlot`).toBe(false);
    }
    console.log(`admin panel initial JS: ${initial.size} files, ${(bytes / 1024).toFixed(1)} KB gzip`);
    expect(bytes).toBeLessThanOrEqual(INITIAL_JS_BUDGET);
  });
});
