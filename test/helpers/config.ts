import { type Config, loadConfig } from '../../src/platform/config.ts';

/** A valid configuration for tests: defaults, a quiet logger, any free port, plus overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    SEED_DEMO_ON_START: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
}
