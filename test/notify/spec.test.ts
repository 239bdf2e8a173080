import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, startNotifyApi, type TestDatabase } from './harness.ts';

/**
 * The notify surface of ../shared/specs/platform-services.md, route by route and method by method, as
 * /openapi.json publishes it: a route the spec names and the platform lacks (or renamed) fails here.
 */
const SPEC: Record<string, string[]> = {
  '/api/notify/contacts/{user_id}': ['get', 'put'],
  '/api/notify/contacts/{user_id}/push-subscriptions': ['post'],
  '/api/notifications': ['post'],
  '/api/notifications/{id}': ['get'],
  '/api/notifications/scheduled': ['post'],
  '/api/notifications/scheduled/{id}': ['get', 'patch', 'delete'],
  '/api/admin/bulk': ['post'],
  '/api/admin/bulk/{id}': ['get'],
  '/api/admin/bulk/{id}/preview': ['post'],
  '/api/admin/bulk/{id}/cancel': ['post'],
  '/api/templates': ['post'],
  '/api/templates/{id}': ['get', 'put'],
  '/api/templates/{id}/versions': ['get'],
  '/api/templates/{id}/diff': ['get'],
  '/api/templates/{id}/rollback': ['post'],
  '/api/templates/{id}/render': ['post'],
  '/api/notify/analytics': ['get'],
};

let db: TestDatabase;
let running: Running;

beforeAll(async () => {
  db = await createTestDatabase();
  running = await startNotifyApi(db);
});

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

describe('the notify API of the spec', () => {
  it('has every path and method in /openapi.json, with its documented success status', async () => {
    const spec = (await running.app!.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    for (const [path, methods] of Object.entries(SPEC)) {
      expect(Object.keys(spec.paths[path] ?? {}), path).toEqual(expect.arrayContaining(methods));
    }
    // The status codes the spec fixes.
    expect(Object.keys(spec.paths['/api/notifications']!.post!.responses)).toContain('202');
    expect(Object.keys(spec.paths['/api/notifications/scheduled']!.post!.responses)).toContain('201');
    expect(Object.keys(spec.paths['/api/admin/bulk']!.post!.responses)).toContain('201');
    expect(Object.keys(spec.paths['/api/templates']!.post!.responses)).toContain('201');
  });
});
