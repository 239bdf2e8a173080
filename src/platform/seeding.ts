import type { Logger } from 'pino';
import type { Sql } from './db/client.ts';

/** How much data `boxoffice seed` makes. Every generator is deterministic for a given `seed`. */
export interface SeedProfile {
  name: 'demo' | 'full' | 'custom';
  seed: number;
  users: number;
  currentEvents: number;
  archiveEvents: number;
}

export const SEED_PROFILES = {
  /** Seeded automatically by the first `npm start`: event 1 in full, small everything else. */
  demo: { name: 'demo', seed: 1, users: 10_000, currentEvents: 10_000, archiveEvents: 100_000 },
  /** The hackload release's scale. */
  full: { name: 'full', seed: 1, users: 1_000_000, currentEvents: 10_000, archiveEvents: 6_000_000 },
} as const satisfies Record<string, SeedProfile>;

export interface Progress {
  /** `n` more items done. */
  tick(n: number): void;
  done(): void;
}

export interface SeedContext {
  db: Sql;
  logger: Logger;
  /** A progress bar (rate, ETA) on a terminal, periodic log lines otherwise. */
  progress(label: string, total: number): Progress;
}

/**
 * A small, fast, seedable PRNG (mulberry32). Each generator takes its own stream, so what one
 * module generates does not depend on how many numbers another one drew.
 */
export function createRandom(seed: number, stream: string): () => number {
  let state = seed >>> 0;
  for (let i = 0; i < stream.length; i++) state = Math.imul(state ^ stream.charCodeAt(i), 0x9e3779b1) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
