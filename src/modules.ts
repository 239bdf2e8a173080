import { adminModule } from './admin/index.ts';
import { bookingModule } from './booking/index.ts';
import { catalogModule } from './catalog/index.ts';
import { createDropsModule } from './drops/index.ts';
import { filesModule } from './files/index.ts';
import { identityModule } from './identity/index.ts';
import { notifyModule } from './notify/index.ts';
import { paymentsModule } from './payments/index.ts';
import type { BoxofficeModule } from './platform/context.ts';
import { ticketsModule } from './tickets/index.ts';

/**
 * The product modules this build runs, in registration order (seeding follows it, so later
 * modules may rely on earlier ones' data). Each issue that adds a module appends it here.
 */
export const modules: BoxofficeModule[] = [
  identityModule,
  catalogModule,
  bookingModule,
  paymentsModule,
  createDropsModule(),
  filesModule,
  ticketsModule,
  notifyModule,
  adminModule,
];
