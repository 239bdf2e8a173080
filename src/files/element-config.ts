import { isAbsolute, join, resolve } from 'node:path';
import { isMode, type Mode } from './modes.ts';

/** One storage element as the configuration declares it (FILES_ELEMENTS). */
export interface ElementConfig {
  id: string;
  path: string;
  mode: Mode;
  /** 0: as much as the disk holds. */
  capacityBytes: number;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * FILES_ELEMENTS: a JSON array `[{"id","path","mode","capacity_bytes"}]`, or the compact
 * `id:path:mode[:capacity],…`; empty means one element `se-1` in DATA_DIR/files/se-1 in edit mode.
 * Throws a message naming the bad entry.
 */
export function parseElementsConfig(text: string, dataDir: string): ElementConfig[] {
  const trimmed = text.trim();
  if (trimmed === '')
    return [{ id: 'se-1', path: resolve(dataDir, 'files', 'se-1'), mode: 'edit', capacityBytes: 0 }];
  const raw: { id?: unknown; path?: unknown; mode?: unknown; capacity?: unknown }[] = [];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new Error(`FILES_ELEMENTS is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new Error('FILES_ELEMENTS must be a JSON array');
    for (const entry of parsed as Record<string, unknown>[])
      raw.push({ id: entry?.id, path: entry?.path, mode: entry?.mode, capacity: entry?.capacity_bytes ?? 0 });
  } else {
    for (const part of trimmed.split(',')) {
      const fields = part.trim().split(':');
      if (fields.length < 3 || fields.length > 4)
        throw new Error(`FILES_ELEMENTS entry "${part}" must be id:path:mode[:capacity]`);
      raw.push({ id: fields[0], path: fields[1], mode: fields[2], capacity: fields[3] ?? 0 });
    }
  }
  if (raw.length === 0) throw new Error('FILES_ELEMENTS declares no element');
  const elements = raw.map((entry, index) => {
    const where = `FILES_ELEMENTS entry ${index + 1}`;
    if (typeof entry.id !== 'string' || !ID.test(entry.id))
      throw new Error(`${where}: id must match ${ID.source}`);
    if (typeof entry.path !== 'string' || entry.path === '') throw new Error(`${where}: path is required`);
    if (!isMode(entry.mode)) throw new Error(`${where}: mode must be edit, rw, ro or ar`);
    const capacityBytes = parseCapacity(entry.capacity);
    if (capacityBytes === undefined)
      throw new Error(`${where}: capacity must be bytes or a number with K, M, G or T`);
    const path = isAbsolute(entry.path) ? entry.path : resolve(join(dataDir, entry.path));
    return { id: entry.id, path, mode: entry.mode, capacityBytes };
  });
  const ids = new Set<string>();
  const paths = new Set<string>();
  for (const element of elements) {
    if (ids.has(element.id)) throw new Error(`FILES_ELEMENTS: id ${element.id} appears twice`);
    if (paths.has(element.path)) throw new Error(`FILES_ELEMENTS: path ${element.path} appears twice`);
    ids.add(element.id);
    paths.add(element.path);
  }
  return elements;
}

function parseCapacity(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(value.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2]!.toUpperCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
