import { describe, expect, it } from 'vitest';
import { cronProblem, isTimeZone, latestRunBetween, nextRunAfter, nextRuns } from '../../src/notify/cron.ts';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('cron patterns', () => {
  it('accepts five fields and nicknames, refuses seconds and nonsense with croner’s message', () => {
    expect(cronProblem('0 9 * * 1-5')).toBeNull();
    expect(cronProblem('@daily')).toBeNull();
    expect(cronProblem('0 0 9 * * *')).toMatch(/seconds are not supported/);
    expect(cronProblem('61 * * * *')).toMatch(/minute/);
    expect(cronProblem('every day')).toMatch(/parts|field|invalid/i);
    expect(cronProblem('')).not.toBeNull();
    expect(cronProblem('* * * * * * *')).toMatch(/5 parts/);
  });

  it('knows IANA zones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});

describe('next runs', () => {
  it('are strictly after the reference and inside [starts_at, ends_at]', () => {
    const from = new Date('2026-01-01T05:00:00Z');
    expect(iso(nextRuns('0 * * * *', 'UTC', from, 3))).toEqual([
      '2026-01-01T06:00:00.000Z',
      '2026-01-01T07:00:00.000Z',
      '2026-01-01T08:00:00.000Z',
    ]);
    const window = { startsAt: new Date('2026-01-01T07:00:00Z'), endsAt: new Date('2026-01-01T09:00:00Z') };
    expect(iso(nextRuns('0 * * * *', 'UTC', from, 5, window))).toEqual([
      '2026-01-01T07:00:00.000Z',
      '2026-01-01T08:00:00.000Z',
      '2026-01-01T09:00:00.000Z',
    ]);
    expect(nextRunAfter('0 * * * *', 'UTC', new Date('2026-01-01T09:00:00Z'), window)).toBeNull();
  });

  it('America/New_York spring forward: 02:00 does not exist on 2026-03-08, the job runs once, at 03:00 EDT', () => {
    const runs = nextRuns('0 2 * * *', 'America/New_York', new Date('2026-03-07T12:00:00Z'), 3);
    expect(iso(runs)).toEqual([
      '2026-03-08T07:00:00.000Z', // 03:00 EDT, right after the gap
      '2026-03-09T06:00:00.000Z', // 02:00 EDT
      '2026-03-10T06:00:00.000Z',
    ]);
  });

  it('America/New_York fall back: 01:30 happens twice on 2026-11-01, the job runs once (the first)', () => {
    const runs = nextRuns('30 1 * * *', 'America/New_York', new Date('2026-10-31T12:00:00Z'), 3);
    expect(iso(runs)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; not again at 01:30 EST (06:30Z)
      '2026-11-02T06:30:00.000Z', // 01:30 EST
      '2026-11-03T06:30:00.000Z',
    ]);
    const onTheDay = runs.filter((d) => d.toISOString().startsWith('2026-11-01'));
    expect(onTheDay).toHaveLength(1);
  });

  it('Europe/Berlin: 2026-03-29 (02:30 missing) and 2026-10-25 (02:30 twice) run once each', () => {
    const spring = nextRuns('30 2 * * *', 'Europe/Berlin', new Date('2026-03-28T12:00:00Z'), 2);
    expect(iso(spring)).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    const autumn = nextRuns('30 2 * * *', 'Europe/Berlin', new Date('2026-10-24T12:00:00Z'), 2);
    expect(iso(autumn)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('finds the latest run in a range (for per-zone runs)', () => {
    const at = latestRunBetween(
      '0 9 * * *',
      'Asia/Tokyo',
      new Date('2026-03-01T12:00:00Z'),
      new Date('2026-03-02T00:00:00Z'),
    );
    expect(at?.toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(
      latestRunBetween(
        '0 9 * * *',
        'Europe/Moscow',
        new Date('2026-03-01T12:00:00Z'),
        new Date('2026-03-02T00:00:00Z'),
      ),
    ).toBeNull();
  });
});
