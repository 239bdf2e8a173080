import type { Platform } from '../platform/context.ts';
import type { CurrentSale, DropsService } from './service.ts';

export type { CurrentSale } from './service.ts';

/** The drops service of each running platform (tests run several in one process); set by the module. */
const running = new WeakMap<Platform, DropsService>();

/** The module registers its service while it runs (src/drops/index.ts). */
export function registerDropsService(platform: Platform, service: DropsService | undefined): void {
  if (service) running.set(platform, service);
  else running.delete(platform);
}

/**
 * What `GET /api/drops/current` answers (the open sale: window, items left, sold, reserved, sell-out
 * time), or undefined when drops do not run in this process (DROPS_ENABLED=false). Read-only.
 */
export async function currentDrop(platform: Platform): Promise<CurrentSale | undefined> {
  return running.get(platform)?.current();
}
