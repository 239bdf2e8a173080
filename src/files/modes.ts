/**
 * Storage element modes (seed 002): `edit` full CRUD; `rw` read and write, no delete; `ro` read
 * only; `ar` archive (read only, cold). The API moves an element only forward, rw → ro → ar;
 * edit → rw and leaving ar are configuration changes with a restart.
 */
export const MODES = ['edit', 'rw', 'ro', 'ar'] as const;
export type Mode = (typeof MODES)[number];

const API_TRANSITIONS: Readonly<Record<Mode, readonly Mode[]>> = {
  edit: [],
  rw: ['ro'],
  ro: ['ar'],
  ar: [],
};

export function isMode(value: unknown): value is Mode {
  return typeof value === 'string' && (MODES as readonly string[]).includes(value);
}

/** Modes the API may move an element to from `mode`. */
export function apiTransitionsFrom(mode: Mode): readonly Mode[] {
  return API_TRANSITIONS[mode];
}

export const acceptsUploads = (mode: Mode) => mode === 'edit' || mode === 'rw';
/** Metadata updates are writes: allowed where uploads are. */
export const acceptsMetadataChanges = acceptsUploads;
export const acceptsDeletes = (mode: Mode) => mode === 'edit';
