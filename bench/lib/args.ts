import { parseArgs } from 'node:util';
import { defaultTool, onPath, type Tool } from './load.ts';

export interface Options {
  scenario: string;
  /** Benchmark this server instead of starting the platform. */
  url: string | null;
  /** Where the scenario reads the server's own figures (default: the load's URL). */
  statusUrl: string | null;
  duration: number;
  connections: number;
  threads: number;
  warmup: number;
  tool: Tool;
  /** `--processes 1,2`: the scenario against `start --processes N` for each N, in one run, one ceiling. */
  processes: number[] | null;
}

/** A mistake on the command line: exit 2 with the message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function helpText(scenarios: { name: string; description: string }[]): string {
  const width = Math.max(...scenarios.map((s) => s.name.length));
  return `Usage: npm run bench -- <scenario> [options]

Starts the platform (as npm start does, own DATA_DIR and database port), loads a bare
Node server (the ceiling) and then the scenario with the same tool and settings, and prints both
with their ratios, a RESULT {json} line, and saves the JSON under bench/results/.

Scenarios:
${scenarios.map((s) => `  ${s.name.padEnd(width)}  ${s.description}`).join('\n')}

Options:
  --url URL              Load this running server instead of starting one (e.g. http://127.0.0.1:8000)
  --status-url URL       Where the scenario reads the server's own figures after the load (default: the
                         loaded URL); e.g. the main port when --url is the drops contest port
  --duration S           Seconds of measured load, for the ceiling and the scenario each (default 10)
  --connections N        Open connections, at least --threads (default 100)
  --threads N            Load-generator threads (default 1)
  --warmup S             Unmeasured load before each measurement, 0 for none (default 2)
  --tool wrk|autocannon  Default: wrk when it is on PATH, else autocannon
  --processes N[,M…]     Load \`start --processes N\` for each N in turn (HTTP workers on Node's cluster; REDIS_URL
                         for N > 1), each on a database of its own created fresh, against one ceiling; prints
                         every run and a table of req/s and CPU per request by process count (Redis database N
                         for count N, emptied first)
  -h, --help             This text
`;
}

/** Returns null for --help. Throws UsageError on anything else that is wrong. */
export function parseOptions(argv: string[], scenarios: string[]): Options | null {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // parseArgs' own message suggests `--` tricks that do not apply here: keep the first sentence.
    throw new UsageError((error as Error).message.split('. ')[0]!);
  }
  const { values, positionals } = parsed;
  if (values.help) return null;
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? 'no scenario given' : `one scenario at a time, got ${positionals.join(' ')}`,
    );
  }
  const scenario = positionals[0]!;
  if (!scenarios.includes(scenario)) {
    throw new UsageError(`unknown scenario "${scenario}" (available: ${scenarios.join(', ')})`);
  }
  const threads = integer('threads', values.threads, 1);
  const connections = integer('connections', values.connections, 1);
  if (connections < threads)
    throw new UsageError(`--connections (${connections}) must be at least --threads (${threads})`);
  return {
    scenario,
    url: values.url === undefined ? null : baseUrl(values.url, 'url'),
    statusUrl: values['status-url'] === undefined ? null : baseUrl(values['status-url'], 'status-url'),
    duration: integer('duration', values.duration, 1),
    connections,
    threads,
    warmup: integer('warmup', values.warmup, 0),
    tool: tool(values.tool),
    processes: processes(values.processes, values.url),
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      'status-url': { type: 'string' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '100' },
      threads: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '2' },
      tool: { type: 'string' },
      processes: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

function integer(name: string, raw: string, min: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
  return Number(raw);
}

function baseUrl(raw: string, option: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--${option} "${raw}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--${option} must be http(s), got "${raw}"`);
  // Scenario paths are absolute, so a path here would be silently dropped by one tool or the other.
  if (url.pathname !== '/' || url.search) throw new UsageError(`--${option} takes no path, got "${raw}"`);
  return url.origin;
}

function tool(raw: string | undefined): Tool {
  if (raw === undefined) return defaultTool();
  if (raw !== 'wrk' && raw !== 'autocannon')
    throw new UsageError(`--tool must be wrk or autocannon, got "${raw}"`);
  if (raw === 'wrk' && !onPath('wrk'))
    throw new UsageError('--tool wrk: wrk is not on PATH (install it, or use autocannon)');
  return raw;
}

function processes(raw: string | undefined, url: string | undefined): number[] | null {
  if (raw === undefined) return null;
  if (url !== undefined)
    throw new UsageError('--processes starts the platform itself: it does not go with --url');
  const counts = raw.split(',').map((part) => part.trim());
  // Up to 15: run N gets Redis database N of the 16 a Redis server has by default.
  if (counts.some((part) => !/^\d+$/.test(part) || Number(part) < 1 || Number(part) > 15))
    throw new UsageError(`--processes takes process counts from 1 to 15, comma-separated, got "${raw}"`);
  const list = counts.map(Number);
  if (new Set(list).size !== list.length) throw new UsageError(`--processes names a count twice: "${raw}"`);
  if (list.some((n) => n > 1) && !process.env.REDIS_URL)
    throw new UsageError(
      '--processes above 1 needs REDIS_URL: several processes share their hot state there',
    );
  return list;
}
