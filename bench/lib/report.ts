import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CpuSplit } from './cpu.ts';
import type { LoadResult, LoadSettings, Tool } from './load.ts';
import type { ServerFigures } from './scenario.ts';

export interface Machine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  node: string;
  /** 1/5/15-minute load averages before the run: a busy machine makes every figure suspect. */
  loadAverage: { '1m': number; '5m': number; '15m': number };
}

export interface Figures {
  rps: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  non2xx: number;
  errors: number;
}

/**
 * One run, exactly as printed on the RESULT line and saved under bench/results/. Latencies in ms.
 * `ceiling` and `scenario` hold the same figures so they compare field by field.
 */
export interface BenchResult {
  /** `--processes`: the HTTP processes of `start --processes N` this run loaded. */
  processes?: number;
  scenario: Figures & { name: string; description: string };
  time: string;
  tool: Tool;
  toolVersion: string;
  threads: number;
  connections: number;
  duration: number;
  warmup: number;
  target: string;
  latencyUnit: 'ms';
  machine: Machine;
  ceiling: Figures;
  ratios: { rps: number | null; p99: number | null };
  /** What the server itself reported about the run (scenarios with `summarize`). */
  server?: ServerFigures;
  /** Where the CPU went during each measured run (Linux). */
  cpu?: { ceiling: CpuSplit; scenario: CpuSplit };
}

export function machine(): Machine {
  const list = cpus();
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryBytes: totalmem(),
    node: process.version,
    loadAverage: { '1m': round(one, 2), '5m': round(five, 2), '15m': round(fifteen, 2) },
  };
}

export function figures(result: LoadResult): Figures {
  const { rps, p50, p95, p99, non2xx, errors } = result;
  const ms = (value: number | null) => (value === null ? null : round(value, 3));
  return { rps: round(rps, 1), p50: ms(p50), p95: ms(p95), p99: ms(p99), non2xx, errors };
}

/** scenario ÷ ceiling: rps below 1 means slower than bare Node; p99 above 1 means slower answers. */
export function ratios(ceiling: Figures, scenario: Figures): BenchResult['ratios'] {
  const ratio = (a: number | null, b: number | null) =>
    a === null || b === null || b === 0 ? null : round(a / b, 3);
  return { rps: ratio(scenario.rps, ceiling.rps), p99: ratio(scenario.p99, ceiling.p99) };
}

export function settingsLine(tool: string, settings: LoadSettings, warmup: number): string {
  const { threads, connections, durationSeconds } = settings;
  const warm = warmup > 0 ? ` (after ${warmup} s warm-up)` : '';
  return `${tool}, ${threads} thread${threads === 1 ? '' : 's'}, ${connections} connections, ${durationSeconds} s${warm}`;
}

export function table(result: BenchResult): string {
  const { machine: m } = result;
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  const ms = (value: number | null) => (value === null ? '-' : `${value.toFixed(2)} ms`);
  const x = (value: number | null) => (value === null ? '-' : `${value.toFixed(2)}x`);
  const rows = [
    ['', 'req/s', 'p50', 'p95', 'p99', 'non-2xx', 'errors'],
    ...[['ceiling', result.ceiling] as const, [result.scenario.name, result.scenario] as const].map(
      ([name, f]) => [
        name,
        Math.round(f.rps).toLocaleString('en-US'),
        ms(f.p50),
        ms(f.p95),
        ms(f.p99),
        String(f.non2xx),
        String(f.errors),
      ],
    ),
    ['ratio', x(result.ratios.rps), '', '', x(result.ratios.p99), '', ''],
  ];
  const lines = align(rows);
  return [
    `${result.scenario.name}: ${result.scenario.description}`,
    `${result.toolVersion} against ${result.target}; ${result.threads} thread(s), ${result.connections} connections, ${result.duration} s`,
    `${m.cpu}, ${m.cores} cores, ${gib} GiB, node ${m.node}, load average ${Object.values(m.loadAverage).join(' ')} before the run`,
    '',
    ...lines,
    ...(result.server ? ['', ...serverLines(result.server)] : []),
    ...(result.cpu ? ['', ...cpuLines(result.cpu, result.scenario.name, result.tool)] : []),
  ].join('\n');
}

/**
 * Where the CPU went in each run, and the server's CPU per request against the bare server's: unlike
 * req/s, that ratio hardly moves when neighbours take the machine's CPU.
 */
function cpuLines(cpu: NonNullable<BenchResult['cpu']>, name: string, tool: string): string[] {
  const rows = [
    [
      'cpu',
      'server',
      'postgres',
      tool,
      'other',
      'stolen',
      'server µs/req',
      'postgres µs/req',
      `${tool} µs/req`,
    ],
    ...[['ceiling', cpu.ceiling] as const, [name, cpu.scenario] as const].map(
      ([label, { percent: p, perRequest: r }]) => [
        label,
        `${p.server} %`,
        `${p.postgres} %`,
        `${p.load} %`,
        `${p.other} %`,
        `${p.stolen} %`,
        String(r.server),
        String(r.postgres),
        String(r.load),
      ],
    ),
  ];
  const ratio =
    cpu.ceiling.perRequest.server > 0 ? cpu.scenario.perRequest.server / cpu.ceiling.perRequest.server : null;
  return [
    ...align(rows),
    `server CPU per request: ${ratio === null ? '-' : `${ratio.toFixed(2)}x`} the bare server's (% of one core; µs of CPU per request answered)`,
  ];
}

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
function align(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  '),
  );
}

/** `server: sold 10000 · sell-out s 3.81 · …`, wrapped at about 100 columns. */
function serverLines(server: ServerFigures): string[] {
  const lines: string[] = [];
  let line = 'server:';
  for (const [name, value] of Object.entries(server)) {
    const cell = ` ${name} ${value === null ? '-' : typeof value === 'number' ? value.toLocaleString('en-US') : value}`;
    if (line.length + cell.length > 100 && line !== 'server:') {
      lines.push(line);
      line = '       ';
    }
    line += line.trim() === 'server:' || line.trim() === '' ? cell : ` ·${cell}`;
  }
  lines.push(line);
  return lines;
}

/**
 * `--processes`: one line per process count, against the run's one ceiling. On a small machine req/s
 * hardly grows with processes; the figure that must not grow is the server's CPU per request.
 */
export function processesTable(results: BenchResult[]): string {
  const rows = [
    [
      'processes',
      'req/s',
      'vs ceiling',
      'p99',
      'server %',
      'server µs/req',
      'postgres µs/req',
      'vs bare server',
    ],
    ...results.map((r) => {
      const cpu = r.cpu?.scenario;
      const bare = r.cpu?.ceiling.perRequest.server;
      return [
        String(r.processes ?? 1),
        Math.round(r.scenario.rps).toLocaleString('en-US'),
        r.ratios.rps === null ? '-' : `${r.ratios.rps.toFixed(3)}x`,
        r.scenario.p99 === null ? '-' : `${r.scenario.p99.toFixed(2)} ms`,
        cpu ? `${cpu.percent.server} %` : '-',
        cpu ? String(cpu.perRequest.server) : '-',
        cpu ? String(cpu.perRequest.postgres) : '-',
        cpu && bare ? `${(cpu.perRequest.server / bare).toFixed(2)}x` : '-',
      ];
    }),
  ];
  return [`${results[0]?.scenario.name ?? ''} by HTTP processes (one ceiling for all)`, ...align(rows)].join(
    '\n',
  );
}

/** The machine-readable line: `RESULT {...}`. */
export function resultLine(result: BenchResult): string {
  return `RESULT ${JSON.stringify(result)}`;
}

/** Writes bench/results/<scenario>-<timestamp>.json (git-ignored) and returns its path. */
export function save(result: BenchResult): string {
  // No arrays in the JSON: JSON.stringify expands them one item a line, which Biome (it also checks this
  // git-ignored folder) would reformat and report.
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const processes = result.processes === undefined ? '' : `-p${result.processes}`;
  const file = `${dir}${result.scenario.name}${processes}-${result.time.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
