import { helpText, type Options, parseOptions, UsageError } from './lib/args.ts';
import { autocannonVersion, runAutocannon } from './lib/autocannon.ts';
import { type CpuSplit, listenerOf, snapshot, split } from './lib/cpu.ts';
import type { LoadResult, LoadSettings, LoadTarget } from './lib/load.ts';
import * as report from './lib/report.ts';
import { loadScenario, type Scenario, type ScenarioContext, scenarioNames } from './lib/scenario.ts';
import { type Children, type ChildServer, startCeiling, startPlatform } from './lib/server.ts';
import { runWrk, wrkVersion } from './lib/wrk.ts';

// `npm run bench -- <scenario> [options]`: ceiling and scenario measured in one run, same tool and settings.

/** Same for both tools so their error counts mean the same thing. */
const TIMEOUT_SECONDS = 10;

const children: Children = new Set();
const controller = new AbortController();

async function main(argv: string[]): Promise<number> {
  const names = scenarioNames();
  let options: Options | null;
  try {
    options = parseOptions(argv, names);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\nRun \`npm run bench -- --help\` for scenarios and options.`);
    return 2;
  }
  if (!options) {
    const scenarios = await Promise.all(names.map((name) => loadScenario(name)));
    console.log(helpText(scenarios));
    return 0;
  }
  const scenario = await loadScenario(options.scenario);
  const settings: LoadSettings = {
    threads: options.threads,
    connections: options.connections,
    durationSeconds: options.duration,
    timeoutSeconds: TIMEOUT_SECONDS,
  };
  try {
    const results = await bench(scenario, options, settings);
    for (const result of results) {
      console.log(report.table(result));
      console.log(report.resultLine(result));
      console.error(`bench: saved ${report.save(result)}`);
    }
    if (options.processes) console.log(`\n${report.processesTable(results)}`);
    return 0;
  } finally {
    await stopChildren();
  }
}

/** One result, or one per process count of `--processes` (all against the same ceiling). */
async function bench(
  scenario: Scenario,
  options: Options,
  settings: LoadSettings,
): Promise<report.BenchResult[]> {
  const { signal } = controller;
  const time = new Date().toISOString();
  const machine = report.machine(); // before our own load moves the load average
  const toolVersion = options.tool === 'wrk' ? wrkVersion() : autocannonVersion();
  const load = (target: LoadTarget, loadSettings: LoadSettings) =>
    options.tool === 'wrk'
      ? runWrk(target, loadSettings, signal)
      : runAutocannon(target, loadSettings, signal);

  /** The platform (or --url) ready and the scenario's setup done, smoke-tested. */
  const prepare = async (processes: number | undefined) => {
    let platform: ChildServer | undefined;
    let baseUrl = options.url;
    if (!baseUrl) {
      const command = `start${processes === undefined ? '' : ` --processes ${processes}`}`;
      console.error(
        `bench: starting the platform (node --max-semi-space-size=8 bin/boxoffice.js ${command}, as npm start) and waiting for /health/ready…`,
      );
      platform = await startPlatform(children, signal, processes);
      baseUrl = platform.baseUrl;
    }
    const statusUrl = options.statusUrl ?? baseUrl;
    const ctx: ScenarioContext = {
      baseUrl,
      statusUrl,
      data: (await scenario.setup?.({ baseUrl, statusUrl })) ?? null,
    };
    const target: LoadTarget = { baseUrl, load: scenario.load(ctx), scenario: { name: scenario.name, ctx } };
    await smokeTest(target);
    return { platform, ctx, target };
  };

  // The ceiling runs while the platform idles, so both measurements share the machine's background load.
  const counts = options.processes ?? [undefined];
  let prepared = await prepare(counts[0]);
  const ceilingServer = await startCeiling(children, signal);
  const ceilingTarget: LoadTarget = {
    baseUrl: ceilingServer.baseUrl,
    load: { kind: 'request', request: { method: 'GET', path: '/' } },
  };
  const ceiling = await measure('ceiling', ceilingTarget, settings, options.warmup, load);
  await ceilingServer.stop();
  const ceilingFigures = report.figures(ceiling);

  const results: report.BenchResult[] = [];
  for (const [i, processes] of counts.entries()) {
    if (i > 0) prepared = await prepare(processes);
    const { ctx, target, platform } = prepared;
    const label = processes === undefined ? scenario.name : `${scenario.name} (${processes} processes)`;
    const measured = await measure(label, target, settings, options.warmup, load);
    const scenarioFigures = report.figures(measured);
    const server = await scenario.summarize?.({
      ...ctx,
      rps: measured.rps,
      loadSeconds: options.warmup + settings.durationSeconds,
    });
    // Each process count starts on its own; the next one gets the machine to itself.
    await platform?.stop();
    results.push({
      ...(processes === undefined ? {} : { processes }),
      scenario: { name: scenario.name, description: scenario.description, ...scenarioFigures },
      tool: options.tool,
      toolVersion,
      threads: settings.threads,
      connections: settings.connections,
      duration: settings.durationSeconds,
      warmup: options.warmup,
      target: options.url ?? 'platform started by the runner',
      time,
      latencyUnit: 'ms',
      machine,
      ceiling: ceilingFigures,
      ratios: report.ratios(ceilingFigures, scenarioFigures),
      ...(server ? { server } : {}),
      ...(ceiling.cpu && measured.cpu ? { cpu: { ceiling: ceiling.cpu, scenario: measured.cpu } } : {}),
    });
  }
  return results;
}

/**
 * A short unmeasured run first: a cold V8 (and cold caches) would otherwise count against the server. The
 * measured run's CPU is read from /proc around it (not the warm-up); the server is whoever listens on the
 * target's port.
 */
async function measure(
  label: string,
  target: LoadTarget,
  settings: LoadSettings,
  warmup: number,
  load: (target: LoadTarget, settings: LoadSettings) => Promise<LoadResult>,
): Promise<LoadResult & { cpu: CpuSplit | undefined }> {
  if (warmup > 0) {
    console.error(`bench: ${label}: warming up for ${warmup} s…`);
    await load(target, { ...settings, durationSeconds: warmup });
  }
  console.error(`bench: ${label}: measuring for ${settings.durationSeconds} s…`);
  const serverPid = listenerOf(Number(new URL(target.baseUrl).port || 80));
  const before = snapshot();
  const result = await load(target, settings);
  const after = snapshot();
  const cpu =
    before && after ? split(before, after, serverPid, result.rps * settings.durationSeconds) : undefined;
  return { ...result, cpu };
}

/** One request before the load, so a wrong route or a dead server fails loudly instead of benchmarking 404s. */
async function smokeTest(target: LoadTarget): Promise<void> {
  if (target.load.kind !== 'request') return;
  const { method, path, headers, body } = target.load.request;
  const url = target.baseUrl + path;
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause ?? (error as Error);
    throw new Error(`cannot reach ${url}: ${cause.message}`);
  }
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status} before the load`);
}

async function stopChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\nbench: ${signal}: stopping the load and the servers…`);
    controller.abort();
    void stopChildren().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (interrupted) return; // the signal handler reports and exits
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
