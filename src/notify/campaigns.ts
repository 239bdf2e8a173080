import type { Platform } from '../platform/context.ts';

/** Fans out due bulk campaigns (FR-003). Being built. */
export async function runCampaigns(_platform: Platform): Promise<void> {}
