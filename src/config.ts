import { bookingConfig } from './booking/config.ts';
import { catalogConfig } from './catalog/config.ts';
import { dropsConfig } from './drops/config.ts';
import { filesConfig } from './files/config.ts';
import { identityConfig } from './identity/config.ts';
import { notifyConfig } from './notify/config.ts';
import { paymentsConfig } from './payments/config.ts';
import {
  type ConfigOf,
  composeConfigSchema,
  envExample as envExampleOf,
  readEnv,
  configTable as tableOf,
  validateConfig,
} from './platform/config/load.ts';
import { platformConfig } from './platform/config/platform.ts';
import { eventsConfig } from './platform/events/config.ts';
import { tracingConfig } from './platform/tracing/config.ts';
import { gatewaySimulatorConfig } from './sims/gateway/config.ts';
import { ticketsConfig } from './tickets/config.ts';

export { ConfigError, readEnv } from './platform/config/load.ts';

/**
 * Every section of the configuration, each declared beside the module that reads it. A module
 * that lands adds its section here; the order is the order of the README table.
 */
export const configSections = [
  platformConfig,
  eventsConfig,
  tracingConfig,
  identityConfig,
  dropsConfig,
  bookingConfig,
  paymentsConfig,
  gatewaySimulatorConfig,
  catalogConfig,
  filesConfig,
  ticketsConfig,
  notifyConfig,
] as const;

/** The one schema the environment is validated against at boot. */
export const ConfigSchema = composeConfigSchema(configSections);

/** The validated, frozen configuration every process runs with. */
export type Config = ConfigOf<typeof ConfigSchema>;

/** Validates and freezes the configuration; throws one ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = readEnv()): Config {
  return validateConfig(ConfigSchema, env);
}

export const configTable = (): string => tableOf(configSections);
export const envExample = (): string => envExampleOf(configSections);
