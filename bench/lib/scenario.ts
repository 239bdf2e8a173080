import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * A benchmark scenario: one module per file in bench/scenarios/, default-exporting a `Scenario`.
 * Both load tools must be able to run it, so a scenario describes its traffic once for each:
 * a single request (the runner derives the wrk Lua and the autocannon options), or a multi-step
 * flow (a wrk Lua script under bench/lua/ plus the equivalent autocannon request steps).
 */
export interface Scenario {
  name: string;
  description: string;
  /**
   * Runs once against the target before any load (e.g. create an event and users through the API).
   * Whatever it returns becomes `ctx.data`; it must be JSON-serialisable because it crosses into
   * the load-generator threads.
   */
  setup?(ctx: SetupContext): Promise<unknown>;
  /** The traffic. Called on the main thread and again in each autocannon thread, so keep it pure. */
  load(ctx: ScenarioContext): ScenarioLoad;
  /**
   * The server's own figures about the measured run (e.g. items sold, time to sell out), read from
   * `statusUrl` once the load has stopped; printed under the table and saved as `server` in the result.
   */
  summarize?(ctx: SummaryContext): Promise<ServerFigures>;
}

export interface SetupContext {
  /** e.g. http://127.0.0.1:8123, no trailing slash. */
  baseUrl: string;
  /** Where the server's own figures are read: `--status-url`, else `baseUrl`. */
  statusUrl: string;
}

/** Named figures, printed in insertion order; null when the server could not tell. */
export type ServerFigures = Record<string, number | string | null>;

export interface SummaryContext extends ScenarioContext {
  /** The measured run's requests per second (the load tool's count). */
  rps: number;
  /** Seconds of scenario load since `setup`: its warm-up and the measured run. */
  loadSeconds: number;
}

export interface ScenarioContext extends SetupContext {
  data: unknown;
}

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export type ScenarioLoad =
  /** The same request over and over: the runner generates everything for both tools. */
  | { kind: 'request'; request: RequestSpec }
  /** Several requests per iteration, possibly using earlier answers (e.g. checkout → purchase). */
  | { kind: 'flow'; wrk: WrkFlow; autocannon: AutocannonFlow };

export interface WrkFlow {
  /**
   * File name under bench/lua/ defining wrk's `request()` / `response()` (never `done()`: the runner
   * appends its own to report percentiles).
   */
  script: string;
  /** Exposed to the script as the global table `BENCH` (e.g. credentials, ids made by `setup`). */
  vars?: Record<string, string | number | boolean>;
}

/** Mutable request autocannon hands to `setupRequest`. */
export interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One entry of autocannon's `requests` array; each connection loops over the steps in order. */
export interface AutocannonStep extends AutocannonRequest {
  /** Adjust the request from `context` (per connection, reset each loop); return nothing to restart. */
  setupRequest?: (
    request: AutocannonRequest,
    context: Record<string, unknown>,
  ) => AutocannonRequest | undefined;
  /** Read the answer, e.g. store an id from `body` in `context` for the next step. */
  onResponse?: (
    status: number,
    body: string,
    context: Record<string, unknown>,
    headers: Record<string, string>,
  ) => void;
}

export interface AutocannonFlow {
  steps: AutocannonStep[];
  /** Copied into each connection's `context` at the start of every loop. */
  initialContext?: Record<string, unknown>;
}

const scenariosDir = fileURLToPath(new URL('../scenarios/', import.meta.url));

/** Names of the scenario modules, sorted. */
export function scenarioNames(): string[] {
  return readdirSync(scenariosDir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .sort();
}

export async function loadScenario(name: string): Promise<Scenario> {
  // Names come from the command line: only accept files that are really there.
  if (!scenarioNames().includes(name)) throw new Error(`unknown scenario "${name}"`);
  const module = (await import(pathToFileURL(`${scenariosDir}${name}.ts`).href)) as { default?: Scenario };
  const scenario = module.default;
  if (!scenario || typeof scenario.load !== 'function' || scenario.name !== name) {
    throw new Error(`bench/scenarios/${name}.ts must default-export a Scenario named "${name}"`);
  }
  return scenario;
}
