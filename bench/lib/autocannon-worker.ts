import { parentPort, workerData } from 'node:worker_threads';
import autocannon, { type Options } from 'autocannon';
import type { WorkerJob, WorkerMessage } from './autocannon.ts';
import { Histogram } from './histogram.ts';
import { loadScenario } from './scenario.ts';

// One autocannon instance per thread, started on the main thread's signal so all run the same window.
const job = (workerData as { job: WorkerJob }).job;
const port = parentPort!;
const send = (message: WorkerMessage) => port.postMessage(message);

try {
  const options = await buildOptions(job);
  send({ type: 'ready' });
  await new Promise((resolve) => port.once('message', resolve));

  const histogram = new Histogram();
  const instance = autocannon(options);
  // autocannon's own histogram has 1 ms resolution and no p95: keep a finer one.
  instance.on('response', (_client: unknown, _status: number, _bytes: number, millis: number) => {
    histogram.record(millis * 1000);
  });
  const raw = await instance;
  send({
    type: 'result',
    completed: raw.totalCompletedRequests,
    durationSeconds: raw.duration,
    non2xx: raw.non2xx,
    errors: raw.errors, // autocannon counts timeouts among errors
    counts: histogram.counts,
  });
} catch (error) {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}

async function buildOptions({
  baseUrl,
  request,
  scenario,
  connections,
  settings,
}: WorkerJob): Promise<Options> {
  const common = { connections, duration: settings.durationSeconds, timeout: settings.timeoutSeconds };
  if (request) {
    const { method, path, headers, body } = request;
    return { ...common, url: baseUrl + path, method, headers, body };
  }
  // A flow's hook functions cannot cross threads: ask the scenario module for them again, here.
  if (!scenario) throw new Error('autocannon job has neither a request nor a scenario');
  const load = (await loadScenario(scenario.name)).load(scenario.ctx);
  if (load.kind !== 'flow') throw new Error(`scenario "${scenario.name}" changed its load kind`);
  return {
    ...common,
    url: baseUrl,
    requests: load.autocannon.steps,
    initialContext: load.autocannon.initialContext,
  };
}
