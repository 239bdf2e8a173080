import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** scrypt at N=2^14, r=8, p=1 (16 MiB, tens of milliseconds): the OWASP minimum for scrypt. */
const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const MAX_MEMORY = 64 * 1024 * 1024;

/** A salted slow hash, as stored: `scrypt$N$r$p$salt$hash` (base64 parts). Runs on the libuv pool. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: MAX_MEMORY });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** The release's unsalted SHA-256 (hex), kept as `sha256$hex` until the first sign-in upgrades it. */
export function legacyHash(sha256Hex: string): string {
  return `sha256$${sha256Hex.toLowerCase()}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function isLegacy(stored: string): boolean {
  return stored.startsWith('sha256$');
}

/** Constant-time check of `password` against a stored hash of either scheme. Unknown formats never match. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (isLegacy(stored)) {
    const expected = Buffer.from(stored.slice('sha256$'.length), 'hex');
    const actual = createHash('sha256').update(password).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: MAX_MEMORY,
  });
  return timingSafeEqual(expected, actual);
}
