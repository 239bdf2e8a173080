import { fileURLToPath } from 'node:url';

/**
 * The repository's root, three levels above this file, which is also where the server bundle lives
 * (node_modules/.cache/boxoffice/): the path resolves the same from the sources and from the bundle.
 */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
