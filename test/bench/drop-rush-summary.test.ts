import { describe, expect, it } from 'vitest';
import { table } from '../../bench/lib/report.ts';
import { couponCollectorRequests } from '../../bench/scenarios/drop-rush.ts';

describe('drop-rush summary', () => {
  it('floors a sell-out at N·H(N) random checkouts plus N purchases', () => {
    expect(couponCollectorRequests(1)).toBe(2); // one checkout finds the only item, one purchase
    expect(couponCollectorRequests(2)).toBe(5); // 1 + 2 checkouts on average, 2 purchases
    // 10,000 items: H(10,000) ≈ 9.7876, so about 107,876 requests.
    expect(Math.round(couponCollectorRequests(10_000))).toBe(107_876);
  });

  it("prints the server's figures under the table, wrapped, a dash where it could not tell", () => {
    const figures = { rps: 1000, p50: 1, p95: 2, p99: 3, non2xx: 0, errors: 0 };
    const text = table({
      scenario: { name: 'drop-rush', description: 'd', ...figures },
      time: '2026-11-21T00:00:00Z',
      tool: 'wrk',
      toolVersion: 'wrk 4',
      threads: 1,
      connections: 100,
      duration: 10,
      warmup: 0,
      target: 'x',
      latencyUnit: 'ms',
      machine: {
        cpu: 'c',
        cores: 2,
        memoryBytes: 2 ** 30,
        node: 'v20',
        loadAverage: { '1m': 0, '5m': 0, '15m': 0 },
      },
      ceiling: figures,
      ratios: { rps: 1, p99: 1 },
      server: {
        sold: 10_000,
        'sell-out (s)': null,
        'checkout 409': 202_784,
        'a long figure name': 'x'.repeat(60),
      },
    });
    const lines = text.split('\n');
    const at = lines.findIndex((line) => line.startsWith('server:'));
    expect(lines[at]).toBe('server: sold 10,000 · sell-out (s) - · checkout 409 202,784');
    expect(lines[at + 1]).toBe(`        a long figure name ${'x'.repeat(60)}`);
    expect(lines.every((line) => line.length <= 100)).toBe(true);
  });
});
