/**
 * Quiet hours per category (`NOTIFY_QUIET_HOURS`, e.g. `marketing=22:00-08:00`): a delivery due inside them in
 * the recipient's time zone is held until they end. Pure logic: the queue asks `releaseAt` when it enqueues
 * and the worker asks again before it sends (a retry may fall into the night).
 */
export interface QuietWindow {
  /** Minutes after local midnight. */
  start: number;
  end: number;
}

export type QuietHours = ReadonlyMap<string, QuietWindow>;

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** `none` turns quiet hours off (an empty value cannot: it means "not set", so the default applies). */
export function parseQuietHours(text: string): QuietHours {
  const map = new Map<string, QuietWindow>();
  if (text.trim() === 'none') return map;
  for (const entry of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9_.-]+)=(\d\d:\d\d)-(\d\d:\d\d)$/.exec(entry);
    const start = match && TIME.exec(match[2]!);
    const end = match && TIME.exec(match[3]!);
    if (!match || !start || !end)
      throw new Error(`NOTIFY_QUIET_HOURS: "${entry}" is not category=HH:MM-HH:MM`);
    map.set(match[1]!, {
      start: Number(start[1]) * 60 + Number(start[2]),
      end: Number(end[1]) * 60 + Number(end[2]),
    });
  }
  return map;
}

const parsed = new WeakMap<object, QuietHours>();

/** The configuration's quiet hours, parsed once (a bad NOTIFY_QUIET_HOURS throws at the first call: boot). */
export function quietHoursOf(config: { NOTIFY_QUIET_HOURS: string }): QuietHours {
  let quiet = parsed.get(config);
  if (!quiet) {
    quiet = parseQuietHours(config.NOTIFY_QUIET_HOURS);
    parsed.set(config, quiet);
  }
  return quiet;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localMinutes(at: Date, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, format);
  }
  const parts = format.formatToParts(at);
  const hour = Number(parts.find((p) => p.type === 'hour')?.value);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value);
  return hour * 60 + minute;
}

function inside(minutes: number, window: QuietWindow): boolean {
  return window.start <= window.end
    ? minutes >= window.start && minutes < window.end
    : minutes >= window.start || minutes < window.end;
}

/**
 * When a delivery of `category` to someone in `timeZone` may go, if not at `at`: the end of the quiet
 * window, or undefined when `at` is outside it. An unknown zone counts as UTC.
 */
export function releaseAt(
  quiet: QuietHours,
  category: string,
  timeZone: string | null | undefined,
  at: Date,
): Date | undefined {
  const window = quiet.get(category);
  if (!window) return undefined;
  let zone = timeZone || 'UTC';
  let minutes: number;
  try {
    minutes = localMinutes(at, zone);
  } catch {
    zone = 'UTC';
    minutes = localMinutes(at, zone);
  }
  if (!inside(minutes, window)) return undefined;
  // Step minute by minute is too slow; step to the window's end by the local difference, then correct for
  // a DST jump (at most two corrections).
  let wait = (window.end - minutes + 1440) % 1440;
  let release = new Date(Math.floor(at.getTime() / 60_000) * 60_000 + wait * 60_000);
  for (let i = 0; i < 2 && inside(localMinutes(release, zone), window); i++) {
    wait = (window.end - localMinutes(release, zone) + 1440) % 1440 || 60;
    release = new Date(release.getTime() + wait * 60_000);
  }
  return release;
}
