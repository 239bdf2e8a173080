import type { Platform } from '../../platform/context.ts';

/** The delivery workers of this process. Being built. */
export async function startDeliveryWorkers(_platform: Platform): Promise<{ stop(): Promise<void> }> {
  return { stop: async () => {} };
}
