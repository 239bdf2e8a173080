import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Platform } from '../../platform/context.ts';
import { type Clock, tokenClock } from './clock.ts';
import { decryptPrivateKey, type KeyEncryption, keyEncryption, type PublicJwk } from './key-crypto.ts';
import { KEYS_CHANNEL, type KeyState, type SigningKeyRow } from './key-store.ts';
import { ensureSigningKeys, isPublished, type KeyContext, publishedUntil } from './rotation.ts';

/** A flood of made-up kids reloads the keys from PostgreSQL at most this often per process. */
export const UNKNOWN_KID_RELOAD_COOLDOWN_MS = 5_000;
/** A safety net under LISTEN/NOTIFY (a notification lost during a reconnect): reload at least this often. */
const RELOAD_INTERVAL_MS = 60_000;

interface LoadedKey {
  kid: string;
  state: KeyState;
  publishedUntil: number;
  jwk: PublicJwk;
  publicKey: KeyObject;
}

interface Snapshot {
  keys: Map<string, LoadedKey>;
  signing: { kid: string; privateKey: KeyObject };
  loadedAt: number;
}

/** What a change of the key set tells the verified-token cache. */
export type KeysChangedListener = (stillTrusted: (kid: string) => boolean) => void;

/**
 * This process's copy of the signing keys: the current private key (decrypted once), every published
 * public key, and the JWKS. Reloaded when a rotation commits anywhere (NOTIFY), at least every minute,
 * and on an unknown kid (at most once per cooldown).
 */
export class Keyring {
  #snapshot: Snapshot | undefined;
  #loading: Promise<Snapshot> | undefined;
  #lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  #unlisten: (() => Promise<void>) | undefined;
  #listeners: KeysChangedListener[] = [];
  #jwks: { kids: string; body: string; etag: string } | undefined;

  constructor(private readonly platform: Platform) {}

  /** Read at each use: a test may set the platform's clock after the keyring exists. */
  private get clock(): Clock {
    return tokenClock(this.platform);
  }

  private async context(): Promise<KeyContext & { encryption: KeyEncryption }> {
    return {
      db: this.platform.db,
      settings: this.platform.config,
      encryption: await keyEncryption(this.platform.config),
      now: this.clock.now(),
    };
  }

  /** Loads (creating the first keys if there are none) and listens for rotations. Throws on a wrong MASTER_KEY. */
  async start(): Promise<void> {
    const { unlisten } = await this.platform.db.listen(
      KEYS_CHANNEL,
      () =>
        void this.reload().catch((error) =>
          this.platform.logger.error({ err: error }, 'signing keys: reload failed'),
        ),
      // (Re)connected: whatever was notified meanwhile is lost, so reload.
      () => void this.reload().catch(() => {}),
    );
    this.#unlisten = unlisten;
    await this.reload();
  }

  async stop(): Promise<void> {
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  onKeysChanged(listener: KeysChangedListener): void {
    this.#listeners.push(listener);
  }

  /** Reads the keys from PostgreSQL now (coalescing concurrent calls). */
  reload(): Promise<Snapshot> {
    if (!this.#loading) {
      this.#loading = this.load().finally(() => {
        this.#loading = undefined;
      });
    }
    return this.#loading;
  }

  private async load(): Promise<Snapshot> {
    const context = await this.context();
    const rows = await ensureSigningKeys(context);
    const snapshot = this.build(rows, context);
    const previous = this.#snapshot;
    this.#snapshot = snapshot;
    if (previous && [...previous.keys.keys()].some((kid) => !snapshot.keys.has(kid))) {
      for (const listener of this.#listeners) listener((kid) => snapshot.keys.has(kid));
    }
    return snapshot;
  }

  private build(rows: SigningKeyRow[], context: KeyContext & { encryption: KeyEncryption }): Snapshot {
    const keys = new Map<string, LoadedKey>();
    let signing: Snapshot['signing'] | undefined;
    for (const row of rows) {
      if (!isPublished(row, context.settings, context.now) && row.state === 'retired') continue;
      keys.set(row.kid, {
        kid: row.kid,
        state: row.state,
        publishedUntil: publishedUntil(row, context.settings),
        // In the published order (jsonb reorders keys).
        jwk: { kty: 'RSA', kid: row.kid, use: 'sig', alg: 'RS256', n: row.publicJwk.n, e: row.publicJwk.e },
        publicKey: createPublicKey({ key: { ...row.publicJwk }, format: 'jwk' }),
      });
      if (row.state === 'current') {
        const der = decryptPrivateKey(context.encryption, {
          kid: row.kid,
          encrypted: row.privateKeyEncrypted,
          check: row.encryptionKeyCheck,
        });
        signing = { kid: row.kid, privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
      }
    }
    if (!signing) throw new Error('signing keys: no current key after loading (should not happen)');
    return { keys, signing, loadedAt: this.clock.now() };
  }

  private async fresh(): Promise<Snapshot> {
    const snapshot = this.#snapshot;
    if (snapshot && this.clock.now() - snapshot.loadedAt < RELOAD_INTERVAL_MS) {
      return snapshot;
    }
    return this.reload();
  }

  /** The key tokens are signed with now. */
  async signingKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    return (await this.fresh()).signing;
  }

  /**
   * The public key for a token's kid, if a valid token may carry it now (next, current, or retired within
   * its grace). An unknown kid reloads once per cooldown: a rotation another process just made.
   */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    const snapshot = this.#snapshot ?? (await this.reload());
    const now = this.clock.now();
    let key = snapshot.keys.get(kid);
    if (!key && now - this.#lastUnknownKidReload >= UNKNOWN_KID_RELOAD_COOLDOWN_MS) {
      this.#lastUnknownKidReload = now;
      key = (await this.reload()).keys.get(kid);
    }
    if (!key || now >= key.publishedUntil) return undefined;
    return key.publicKey;
  }

  /** Synchronous check for cached verifications: is this kid still trusted now? */
  trusts(kid: string): boolean {
    const key = this.#snapshot?.keys.get(kid);
    return key !== undefined && this.clock.now() < key.publishedUntil;
  }

  /** The JWKS body and its ETag, rebuilt only when the published set changes. */
  async jwks(): Promise<{ body: string; etag: string }> {
    const snapshot = await this.fresh();
    const now = this.clock.now();
    const published = [...snapshot.keys.values()].filter((k) => now < k.publishedUntil);
    const kids = published.map((k) => k.kid).join(',');
    if (this.#jwks?.kids !== kids) {
      const body = JSON.stringify({ keys: published.map((k) => k.jwk) });
      this.#jwks = {
        kids,
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      };
    }
    return this.#jwks;
  }
}

const keyrings = new WeakMap<Platform, Keyring>();

/** One per platform: the token endpoint, the JWKS and the Bearer authenticator share it. */
export function keyringOf(platform: Platform): Keyring {
  let keyring = keyrings.get(platform);
  if (!keyring) {
    keyring = new Keyring(platform);
    keyrings.set(platform, keyring);
  }
  return keyring;
}
