import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ScenarioContext, ScenarioLoad } from './scenario.ts';

export type Tool = 'wrk' | 'autocannon';

/** Identical for the ceiling and the scenario: that is what makes the ratio meaningful. */
export interface LoadSettings {
  threads: number;
  connections: number;
  durationSeconds: number;
  /** A request slower than this counts as an error (both tools). */
  timeoutSeconds: number;
}

export interface LoadTarget {
  baseUrl: string;
  load: ScenarioLoad;
  /** Lets autocannon threads rebuild a flow's hook functions (they cannot be sent across threads). */
  scenario?: { name: string; ctx: ScenarioContext };
}

/** Latencies in milliseconds; null when the tool could not tell (e.g. no response at all). */
export interface LoadResult {
  requests: number;
  durationSeconds: number;
  rps: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  /** Answers with a status outside 2xx (wrk: outside 2xx/3xx). */
  non2xx: number;
  /** Connection errors and timeouts: requests that got no answer. */
  errors: number;
}

export function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** wrk when installed (lighter, so it steals less CPU from the server on a small machine). */
export function defaultTool(): Tool {
  return onPath('wrk') ? 'wrk' : 'autocannon';
}
