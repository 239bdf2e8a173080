import { type Config, loadConfig } from '../../src/config.ts';

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
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // A fixed key: tests never write DATA_DIR/master.key into the work tree.
    MASTER_KEY: 'Ym94b2ZmaWNlLXRlc3QtbWFzdGVyLWtleS0wMTIzNDU=',
    ...overrides,
  });
}
