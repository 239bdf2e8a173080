import { Cron } from 'croner';

/**
 * The cron side of scheduled notifications (FR-002), pure: which patterns we accept and when they run, with
 * croner doing the calendar work. Patterns have five fields (minute resolution): the runner ticks once a
 * minute, so a seconds field would promise what it cannot keep and is refused.
 *
 * Daylight saving time follows croner 11 (Vixie cron): a fixed-time job (one value in minute and hour, e.g.
 * `0 2 * * *`) whose time does not exist on a spring-forward day runs once at the first valid time after the
 * gap (03:00), and one whose time happens twice on a fall-back day runs once, at the first occurrence.
 * Interval jobs (`*`, steps, ranges or lists in minute or hour) skip the missing hour and run on both passes
 * of the repeated one.
 */

/** The `time_zone` value meaning "at the cron time in each recipient's own zone". */
export const RECIPIENT_ZONE = 'recipient';

/** The part of time a schedule is active in: runs at `startsAt` and at `endsAt` are included. */
export interface RunWindow {
  startsAt?: Date | null;
  endsAt?: Date | null;
}

const jobs = new Map<string, Cron>();
const MAX_JOBS = 1000;

/** A paused croner job used only for its calendar (never scheduled), kept per pattern and zone. */
function calendar(pattern: string, timeZone: string): Cron {
  const key = `${pattern}\u0000${timeZone}`;
  let job = jobs.get(key);
  if (!job) {
    job = new Cron(pattern, { timezone: timeZone, paused: true, mode: '5-part' });
    if (jobs.size >= MAX_JOBS) jobs.delete(jobs.keys().next().value!);
    jobs.set(key, job);
  }
  return job;
}

/** What is wrong with a pattern (croner's message), or null when it is a five-field pattern we can run. */
export function cronProblem(pattern: string): string | null {
  if (pattern.trim() !== pattern || pattern.length === 0)
    return 'the pattern is empty or has surrounding spaces';
  const fields = pattern.split(/\s+/).length;
  if (!pattern.startsWith('@') && fields === 6)
    return 'seconds are not supported: use five fields (minute hour day-of-month month day-of-week); schedules run at minute resolution';
  try {
    calendar(pattern, 'UTC');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** True for a time zone the runtime knows (IANA names such as Europe/Berlin, and UTC). */
export function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The next `count` runs strictly after `after`, inside the window. */
export function nextRuns(
  pattern: string,
  timeZone: string,
  after: Date,
  count: number,
  window: RunWindow = {},
): Date[] {
  let from = after;
  // startsAt is inclusive; croner's nextRuns starts strictly after its reference.
  if (window.startsAt && window.startsAt.getTime() - 1 > from.getTime())
    from = new Date(window.startsAt.getTime() - 1);
  const runs = calendar(pattern, timeZone).nextRuns(count, from);
  return window.endsAt ? runs.filter((run) => run <= window.endsAt!) : runs;
}

/** The first run strictly after `after` inside the window, or null when there is none (finished). */
export function nextRunAfter(
  pattern: string,
  timeZone: string,
  after: Date,
  window: RunWindow = {},
): Date | null {
  return nextRuns(pattern, timeZone, after, 1, window)[0] ?? null;
}

/** The latest run in [from, to] inside the window, or null. */
export function latestRunBetween(
  pattern: string,
  timeZone: string,
  from: Date,
  to: Date,
  window: RunWindow = {},
): Date | null {
  const upper = window.endsAt && window.endsAt < to ? window.endsAt : to;
  // croner's previousRuns is strictly before its reference: one millisecond later includes `upper`.
  const [latest] = calendar(pattern, timeZone).previousRuns(1, new Date(upper.getTime() + 1));
  if (!latest || latest < from) return null;
  if (window.startsAt && latest < window.startsAt) return null;
  return latest;
}
