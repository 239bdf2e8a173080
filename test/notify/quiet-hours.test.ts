import { describe, expect, it } from 'vitest';
import { parseQuietHours, releaseAt } from '../../src/notify/quiet-hours.ts';

describe('quiet hours', () => {
  it('parses category windows and refuses what is not one', () => {
    expect([...parseQuietHours('marketing=22:00-08:00, digest=12:30-13:00')]).toEqual([
      ['marketing', { start: 22 * 60, end: 8 * 60 }],
      ['digest', { start: 12 * 60 + 30, end: 13 * 60 }],
    ]);
    expect(() => parseQuietHours('marketing=25:00-08:00')).toThrow(/"marketing=25:00-08:00" is not/);
    expect(() => parseQuietHours('marketing')).toThrow(/is not category=HH:MM-HH:MM/);
  });

  it('`none` turns them off, so an operator can (an empty value means the default)', () => {
    const quiet = parseQuietHours('none');
    expect(quiet.size).toBe(0);
    expect(releaseAt(quiet, 'marketing', 'UTC', new Date('2026-12-03T01:00:00Z'))).toBeUndefined();
  });

  it('holds a delivery inside the window until its end in the recipient’s zone, and only that category', () => {
    const quiet = parseQuietHours('marketing=22:00-08:00');
    const night = new Date('2026-12-03T01:00:00Z');
    expect(releaseAt(quiet, 'marketing', 'UTC', night)).toEqual(new Date('2026-12-03T08:00:00Z'));
    // 04:00 in Moscow (UTC+3) is still night there: released at 08:00 local, 05:00 UTC.
    expect(releaseAt(quiet, 'marketing', 'Europe/Moscow', night)).toEqual(new Date('2026-12-03T05:00:00Z'));
    // 20:00 in New York (UTC-5) is evening: sent now.
    expect(releaseAt(quiet, 'marketing', 'America/New_York', night)).toBeUndefined();
    expect(releaseAt(quiet, 'transactional', 'UTC', night)).toBeUndefined();
  });
});
