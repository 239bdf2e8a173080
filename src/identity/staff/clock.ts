import type { Platform } from '../../platform/context.ts';

/** Where staff sessions read the time: every expiry is decided here, never by the database's now(). */
export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };
const clocks = new WeakMap<Platform, Clock>();

export function staffClock(platform: Platform): Clock {
  return clocks.get(platform) ?? systemClock;
}

/** Tests move time for one platform's sessions (idle and absolute expiry) without sleeping. */
export function setStaffClock(platform: Platform, clock: Clock): void {
  clocks.set(platform, clock);
}
