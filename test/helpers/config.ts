import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config.ts';

let dataDir: string | undefined;

/**
 * This test file's DATA_DIR (the file store's default element lives there): its own, so parallel test
 * files on their own databases never share an element, and nothing is written into the work tree.
 * Removed when the test process exits. Processes a test starts get it too (test/helpers/process.ts).
 */
export function testDataDir(): string {
  if (!dataDir) {
    // Under the run's own directory (test/global-setup.ts removes it at the end), else the system's.
    const dir = mkdtempSync(join(process.env.BOXOFFICE_TEST_TMPDIR ?? tmpdir(), 'data-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    dataDir = dir;
  }
  return dataDir;
}

/** A valid configuration for tests: defaults, a quiet logger, any free port, plus overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    SEED_DEMO_ON_START: 'false',
    // Test files run in parallel: each server takes any free contest port, never 8080.
    DROPS_CONTEST_PORT: '0',
    // … and any free port for the in-process gateway simulator, never 8090.
    SIM_GATEWAY_PORT: '0',
    // … and for the development notify peers, never 2525/8025/8091/8092.
    SIM_NOTIFY_SMTP_PORT: '0',
    SIM_NOTIFY_INBOX_PORT: '0',
    SIM_NOTIFY_SMS_PORT: '0',
    SIM_NOTIFY_PUSH_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // A fixed key: tests never write DATA_DIR/master.key.
    MASTER_KEY: 'Ym94b2ZmaWNlLXRlc3QtbWFzdGVyLWtleS0wMTIzNDU=',
    DATA_DIR: testDataDir(),
    ...overrides,
  });
}
