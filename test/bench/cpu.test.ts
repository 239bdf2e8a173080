import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type CpuSnapshot, listenerOf, snapshot, split } from '../../bench/lib/cpu.ts';

const linux = process.platform === 'linux';
if (!linux) console.warn('skipping the /proc readings of bench/lib/cpu.ts: not Linux');

describe('bench CPU split', () => {
  it('splits ticks between the server, PostgreSQL, the load generator and the rest, per request', () => {
    const at = (
      ms: number,
      processes: [number, string, number, number?][],
      runner: number,
      steal: number,
      total: number,
    ) =>
      ({
        at: ms,
        processes: new Map(processes.map(([pid, comm, ticks, ppid = 1]) => [pid, { comm, ticks, ppid }])),
        runner,
        steal,
        total,
        cores: 2,
      }) satisfies CpuSnapshot;
    const before = at(
      0,
      [
        [10, 'node', 100],
        [11, 'node', 0, 10],
        [20, 'postgres', 50],
        [22, 'postgres', 0, 10],
        [30, 'bash', 5],
      ],
      7,
      0,
      1_000,
    );
    // 2 s later: the server used 1.6 s and its cluster worker (pid 11, its child) 0.4 s; postgres 0.8 s
    // (two backends, one new, and one the server started as its child); a stranger 0.1 s; the load
    // generator (the runner and its reaped children) 0.8 s; 10 % of all ticks were stolen.
    const after = at(
      2_000,
      [
        [10, 'node', 260],
        [11, 'node', 40, 10],
        [20, 'postgres', 80],
        [21, 'postgres', 30],
        [22, 'postgres', 20, 10],
        [30, 'bash', 15],
      ],
      87,
      40,
      1_400,
    );
    const result = split(before, after, 10, 40_000);
    expect(result.percent).toEqual({
      server: 100,
      postgres: 40,
      load: 40,
      other: 5,
      stolen: 20, // 40 of 400 ticks over 2 cores: a fifth of one core
    });
    // 2 s of server CPU over 40,000 requests: 50 µs each; postgres 0.8 s: 20 µs; load 0.8 s: 20 µs.
    expect(result.perRequest).toEqual({ server: 50, postgres: 20, load: 20 });
  });

  it.skipIf(!linux)('finds the process listening on a port, and reads its own ticks', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      expect(listenerOf(port)).toBe(process.pid);
      const now = snapshot()!;
      expect(now.processes.get(process.pid)?.ticks).toBeGreaterThan(0);
      expect(now.total).toBeGreaterThan(now.steal);
    } finally {
      server.close();
    }
    expect(listenerOf(1)).toBeNull();
  });
});
