import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult, LoadSettings, LoadTarget } from './load.ts';

const luaDir = fileURLToPath(new URL('../lua/', import.meta.url));

export function wrkVersion(): string {
  // `wrk -v` prints "wrk 4.2.0 [epoll] Copyright…" and usage, then exits 1.
  const run = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const version = /^wrk\s+(\S+)/m.exec(`${run.stdout}${run.stderr}`)?.[1];
  return version ? `wrk ${version}` : 'wrk';
}

export async function runWrk(
  target: LoadTarget,
  settings: LoadSettings,
  signal: AbortSignal,
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'boxoffice-bench-'));
  try {
    const script = join(dir, 'bench.lua');
    writeFileSync(script, composeScript(target));
    const args = [
      ...['-t', String(settings.threads), '-c', String(settings.connections)],
      ...['-d', `${settings.durationSeconds}s`, '--timeout', `${settings.timeoutSeconds}s`],
      ...['--latency', '-s', script, target.baseUrl],
    ];
    const { code, stdout, stderr } = await capture('wrk', args, signal);
    if (code !== 0) throw new Error(`wrk exited with ${code}: ${(stderr || stdout).trim()}`);
    return parseWrkOutput(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Scenario part (a generated static request, or the flow's script) followed by the reporting hook. */
export function composeScript(target: LoadTarget): string {
  const parts: string[] = [];
  const { load } = target;
  if (load.kind === 'request') {
    // With no request() function defined, wrk formats this request once and replays it.
    const { method, path, headers = {}, body } = load.request;
    parts.push(`wrk.method = ${luaString(method)}`, `wrk.path = ${luaString(path)}`);
    for (const [name, value] of Object.entries(headers)) {
      parts.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
    }
    if (body !== undefined) parts.push(`wrk.body = ${luaString(body)}`);
  } else {
    if (!/^[\w.-]+\.lua$/.test(load.wrk.script)) throw new Error(`bad wrk script name "${load.wrk.script}"`);
    const vars = Object.entries(load.wrk.vars ?? {}).map(
      ([key, value]) =>
        `[${luaString(key)}] = ${typeof value === 'string' ? luaString(value) : String(value)}`,
    );
    parts.push(`BENCH = { ${vars.join(', ')} }`, readFileSync(join(luaDir, load.wrk.script), 'utf8'));
  }
  parts.push(readFileSync(join(luaDir, 'report.lua'), 'utf8'));
  return `${parts.join('\n')}\n`;
}

/** A Lua string literal: printable ASCII as is, every other byte as a 3-digit decimal escape. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += printable ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/**
 * Prefers the exact line printed by report.lua; falls back to wrk's text report (no p95 there)
 * so a broken hook degrades the figures instead of losing the run.
 */
export function parseWrkOutput(stdout: string): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_WRK '));
  if (line) {
    const r = JSON.parse(line.slice('BENCH_WRK '.length)) as Record<string, number>;
    const seconds = r.duration_us! / 1e6;
    const ms = (us: number | undefined) => (us === undefined || r.requests === 0 ? null : us / 1000);
    return {
      requests: r.requests!,
      durationSeconds: seconds,
      rps: seconds > 0 ? r.requests! / seconds : 0,
      p50: ms(r.p50_us),
      p90: ms(r.p90_us),
      p95: ms(r.p95_us),
      p99: ms(r.p99_us),
      non2xx: r.status!,
      errors: r.connect! + r.read! + r.write! + r.timeout!,
    };
  }
  const number = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  const percentile = (p: number) => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(stdout);
    const scale = { us: 0.001, ms: 1, s: 1000, m: 60000 } as const;
    return match ? Number(match[1]) * scale[match[2] as keyof typeof scale] : null;
  };
  const requests = number(/(\d+) requests in ([\d.]+)(?:us|ms|s|m)/);
  const rps = number(/Requests\/sec:\s+([\d.]+)/);
  if (Number.isNaN(requests) || Number.isNaN(rps)) throw new Error(`could not parse wrk output:\n${stdout}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requests,
    durationSeconds: rps > 0 ? requests / rps : 0,
    rps,
    p50: percentile(50),
    p90: percentile(90),
    p95: null,
    p99: percentile(99),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

function capture(
  command: string,
  args: string[],
  signal: AbortSignal,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { signal, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
