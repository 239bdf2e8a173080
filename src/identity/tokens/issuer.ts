import type { Platform } from '../../platform/context.ts';

const listening = new WeakMap<Platform, string>();

/**
 * The `iss` of our tokens and the RFC 8414 issuer: IDENTITY_ISSUER, else `http://HOST:PORT` of this API
 * (the port it really listens on when PORT is 0). Several API processes behind one address must set
 * IDENTITY_ISSUER, or each would refuse the others' tokens.
 */
export function issuerOf(platform: Platform): string {
  const { IDENTITY_ISSUER, HOST, PORT } = platform.config;
  if (IDENTITY_ISSUER) return IDENTITY_ISSUER.replace(/\/+$/, '');
  return listening.get(platform) ?? `http://${HOST.includes(':') ? `[${HOST}]` : HOST}:${PORT}`;
}

/** Called once the server listens, with its `http://host:port`. */
export function setListeningUrl(platform: Platform, url: string): void {
  listening.set(platform, url);
}
