import { identityModule } from './identity/index.ts';
import type { BoxofficeModule } from './platform/context.ts';

/**
 * The product modules this build runs, in registration order. Each issue that adds a module
 * (catalog, seating, booking, payments, drops, notify, files, identity) appends it here.
 */
export const modules: BoxofficeModule[] = [identityModule];
