import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { Histogram } from './histogram.ts';
import type { LoadResult, LoadSettings, LoadTarget } from './load.ts';
import type { RequestSpec, ScenarioContext } from './scenario.ts';

/** What one load thread gets: plain data only (workerData is structured-cloned). */
export interface WorkerJob {
  baseUrl: string;
  /** Set for single-request loads (and the ceiling). */
  request: RequestSpec | null;
  /** Set for flows: the thread imports the scenario to get its hook functions. */
  scenario: { name: string; ctx: ScenarioContext } | null;
  connections: number;
  settings: LoadSettings;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | {
      type: 'result';
      completed: number;
      durationSeconds: number;
      non2xx: number;
      errors: number;
      counts: Float64Array;
    };

type Result = Extract<WorkerMessage, { type: 'result' }>;

export function autocannonVersion(): string {
  const pkg = createRequire(import.meta.url)('autocannon/package.json') as { version: string };
  return `autocannon ${pkg.version}`;
}

/**
 * Runs `threads` autocannon instances in worker threads (like wrk's -t), connections split between
 * them, then merges counts and latency histograms.
 */
export async function runAutocannon(
  target: LoadTarget,
  settings: LoadSettings,
  signal: AbortSignal,
): Promise<LoadResult> {
  const boot = new URL('./worker-boot.js', import.meta.url);
  const entry = new URL('./autocannon-worker.ts', import.meta.url).href;
  const jobs = splitConnections(settings).map(
    (connections): WorkerJob => ({
      baseUrl: target.baseUrl,
      request: target.load.kind === 'request' ? target.load.request : null,
      scenario: target.load.kind === 'flow' ? (target.scenario ?? null) : null,
      connections,
      settings,
    }),
  );
  const workers = jobs.map((job) => new Worker(boot, { workerData: { entry, job } }));
  const stopAll = () => {
    for (const worker of workers) void worker.terminate();
  };
  signal.addEventListener('abort', stopAll, { once: true });
  try {
    const ready = workers.map((worker) => nextMessage(worker));
    for (const message of await Promise.all(ready)) expect(message, 'ready');
    const results = workers.map((worker) => nextMessage(worker));
    for (const worker of workers) worker.postMessage('start');
    return merge((await Promise.all(results)).map((message) => expect(message, 'result') as Result));
  } finally {
    signal.removeEventListener('abort', stopAll);
    stopAll();
  }
}

/** 100 connections on 3 threads → 34, 33, 33. */
function splitConnections({ threads, connections }: LoadSettings): number[] {
  return Array.from(
    { length: threads },
    (_, i) => Math.floor(connections / threads) + (i < connections % threads ? 1 : 0),
  );
}

function nextMessage(worker: Worker): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: WorkerMessage) => {
      worker.off('error', onError).off('exit', onExit);
      resolve(message);
    };
    const onError = (error: Error) => {
      worker.off('message', onMessage).off('exit', onExit);
      reject(error);
    };
    const onExit = (code: number) => {
      worker.off('message', onMessage).off('error', onError);
      reject(new Error(`autocannon thread exited early (code ${code})`));
    };
    worker.once('message', onMessage).once('error', onError).once('exit', onExit);
  });
}

function expect(message: WorkerMessage, type: WorkerMessage['type']): WorkerMessage {
  if (message.type === 'error') throw new Error(`autocannon: ${message.message}`);
  if (message.type !== type) throw new Error(`autocannon thread sent "${message.type}", expected "${type}"`);
  return message;
}

function merge(results: Result[]): LoadResult {
  const histogram = new Histogram();
  let requests = 0;
  let non2xx = 0;
  let errors = 0;
  let durationSeconds = 0;
  for (const result of results) {
    histogram.merge(new Histogram(result.counts));
    requests += result.completed;
    non2xx += result.non2xx;
    errors += result.errors;
    durationSeconds = Math.max(durationSeconds, result.durationSeconds);
  }
  const ms = (percent: number) => {
    const micros = histogram.percentile(percent);
    return micros === null ? null : micros / 1000;
  };
  return {
    requests,
    durationSeconds,
    rps: durationSeconds > 0 ? requests / durationSeconds : 0,
    p50: ms(50),
    p90: ms(90),
    p95: ms(95),
    p99: ms(99),
    non2xx,
    errors,
  };
}
