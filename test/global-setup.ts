import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { ensureWebBuild } from '../scripts/web-build.mjs';
import { removeEmbeddedData, startEmbeddedPostgres } from '../src/platform/db/embedded.ts';
import { migrateDatabase } from '../src/platform/migrations.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on the test server, for CREATE DATABASE. */
    adminUrl: string;
    /** A migrated database every test file clones its own from. */
    templateDatabase: string;
  }
}

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });

/**
 * Once per `npm test`: find a PostgreSQL (DATABASE_URL, else an embedded one in a temp dir with
 * durability off, since test data is throwaway), and build a migrated template database.
 */
export default async function setup(project: TestProject) {
  // Each test file's DATA_DIR goes under this run's directory (test/helpers/config.ts), removed at the end
  // even when a worker process was ended without its exit handlers.
  const runDir = await mkdtemp(join(tmpdir(), 'boxoffice-test-run-'));
  process.env.BOXOFFICE_TEST_TMPDIR = runDir;
  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!adminUrl) {
    const dataDir = join(tmpdir(), `boxoffice-test-${process.pid}`);
    const port = 20000 + (process.pid % 20000);
    console.warn(`DATABASE_URL is not set: starting embedded PostgreSQL on port ${port} for the tests`);
    const server = await startEmbeddedPostgres({
      dataDir,
      port,
      logger,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    adminUrl = server.adminUrl;
    stopEmbedded = async () => {
      await server.stop();
      await removeEmbeddedData(dataDir); // also its cluster, if it had to live outside a private TMPDIR
    };
  }

  // The admin panel's build, once, before test files that serve it start in parallel (cached by its hash).
  await ensureWebBuild(fileURLToPath(new URL('..', import.meta.url)));

  const templateDatabase = `boxoffice_template_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`);
  await admin.unsafe(`create database ${templateDatabase}`);
  const templateUrl = withDatabase(adminUrl, templateDatabase);
  const template = postgres(templateUrl, { max: 1, onnotice: () => {} });
  await migrateDatabase(template, templateUrl, logger);
  await template.end();

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    await rm(runDir, { recursive: true, force: true });
    await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`);
    await admin.end();
    await stopEmbedded?.();
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
