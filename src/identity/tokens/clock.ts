import type { Platform } from '../../platform/context.ts';

/**
 * Where tokens and keys read the time: token iat/exp, verification, key publication, rotation and
 * grace periods are all decided here, so tests cross them without sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
const clocks = new WeakMap<Platform, Clock>();

export function tokenClock(platform: Platform): Clock {
  return clocks.get(platform) ?? systemClock;
}

/** Tests move time for one platform's tokens and keys. */
export function setTokenClock(platform: Platform, clock: Clock): void {
  clocks.set(platform, clock);
}
