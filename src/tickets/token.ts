import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/**
 * The signed ticket token a QR code carries: base64url of
 *   version (1 byte, 1) · ticket id · booking id · seat id (8 bytes each, big-endian) · Ed25519 signature (64)
 * = 89 bytes, 119 characters: a QR code of version 7 at level M, easy for any gate camera. The signature
 * covers the first 25 bytes, so a gate holding the public key (GET /api/tickets/public-key) can tell a
 * genuine ticket offline; whether it was used or revoked only the server knows (POST /api/tickets/verify).
 */
export interface TicketClaims {
  ticketId: number;
  bookingId: number;
  seatId: number;
}

const VERSION = 1;
const CLAIMS_BYTES = 1 + 3 * 8;
const SIGNATURE_BYTES = 64;
export const TOKEN_BYTES = CLAIMS_BYTES + SIGNATURE_BYTES;
/** Base64url length of a token (no padding). */
export const TOKEN_LENGTH = Math.ceil((TOKEN_BYTES * 4) / 3);

/** PKCS#8 DER of an Ed25519 private key, up to the 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface TicketSigner {
  sign(claims: TicketClaims): string;
  /** The claims of a genuine token, or undefined for anything else (malformed, forged, tampered). */
  verify(token: string): TicketClaims | undefined;
  publicKey: KeyObject;
}

/** A signer from a 32-byte seed (deriveKey(master, 'ticket-signing')). Ed25519 signatures are deterministic. */
export function ticketSigner(seed: Buffer): TicketSigner {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  return {
    publicKey,
    sign(claims) {
      const body = encodeClaims(claims);
      return Buffer.concat([body, sign(null, body, privateKey)]).toString('base64url');
    },
    verify: (token) => verifyTicketToken(token, publicKey),
  };
}

/** What a gate does offline with the published key. */
export function verifyTicketToken(token: string, publicKey: KeyObject): TicketClaims | undefined {
  if (typeof token !== 'string' || token.length !== TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) {
    return undefined;
  }
  const bytes = Buffer.from(token, 'base64url');
  // Canonical form only: a token whose trailing bits differ decodes to the same bytes.
  if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) return undefined;
  const body = bytes.subarray(0, CLAIMS_BYTES);
  if (body[0] !== VERSION) return undefined;
  if (!verify(null, body, publicKey, bytes.subarray(CLAIMS_BYTES))) return undefined;
  const claims = {
    ticketId: readId(body, 1),
    bookingId: readId(body, 9),
    seatId: readId(body, 17),
  };
  return claims.ticketId > 0 && claims.bookingId > 0 && claims.seatId > 0 ? claims : undefined;
}

function encodeClaims(claims: TicketClaims): Buffer {
  const body = Buffer.alloc(CLAIMS_BYTES);
  body[0] = VERSION;
  writeId(body, 1, claims.ticketId);
  writeId(body, 9, claims.bookingId);
  writeId(body, 17, claims.seatId);
  return body;
}

function writeId(buffer: Buffer, offset: number, id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`not an id: ${id}`);
  buffer.writeBigUInt64BE(BigInt(id), offset);
}

function readId(buffer: Buffer, offset: number): number {
  const value = buffer.readBigUInt64BE(offset);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : 0;
}

/** The public key as a JWK (RFC 8037) and PEM, for gates. */
export function publicKeyDocument(publicKey: KeyObject): {
  jwk: { kty: string; crv: string; x: string };
  pem: string;
} {
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string };
  return {
    jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x },
    pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}
