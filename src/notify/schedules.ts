import type { Platform } from '../platform/context.ts';

/** Takes the due runs of scheduled notifications (FR-002). Being built. */
export async function runDueSchedules(_platform: Platform, _now: Date = new Date()): Promise<void> {}
