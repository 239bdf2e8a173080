import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TOKEN_BYTES, TOKEN_LENGTH, ticketSigner, verifyTicketToken } from '../../src/tickets/token.ts';

const signer = ticketSigner(Buffer.alloc(32, 7));
const claims = { ticketId: 42, bookingId: 1234567, seatId: 100_015 };

describe('ticket tokens', () => {
  it('round-trip: compact base64url, verified with the public key alone, deterministic', () => {
    const token = signer.sign(claims);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token).toHaveLength(TOKEN_LENGTH);
    expect(Buffer.from(token, 'base64url')).toHaveLength(TOKEN_BYTES);
    expect(signer.sign(claims)).toBe(token);
    expect(verifyTicketToken(token, signer.publicKey)).toEqual(claims);
    expect(signer.verify(token)).toEqual(claims);
  });

  it('the key comes from the seed: the same seed verifies, another does not', () => {
    const token = signer.sign(claims);
    expect(ticketSigner(Buffer.alloc(32, 7)).verify(token)).toEqual(claims);
    expect(ticketSigner(Buffer.alloc(32, 8)).verify(token)).toBeUndefined();
    expect(() => ticketSigner(Buffer.alloc(31))).toThrow(RangeError);
  });

  it('any changed byte (claims, version or signature) makes it invalid', () => {
    const bytes = Buffer.from(signer.sign(claims), 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const tampered = Buffer.from(bytes);
      tampered[i] = tampered[i]! ^ 0x01;
      expect(signer.verify(tampered.toString('base64url')), `byte ${i}`).toBeUndefined();
    }
  });

  it('forgeries and junk are invalid, never a throw', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const other = ticketSigner(
      Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32)),
    );
    const token = signer.sign(claims);
    for (const junk of [
      other.sign(claims),
      '',
      'x',
      token.slice(1),
      `${token}A`,
      `${token.slice(0, -1)}=`,
      token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), // the last character carries signature bits
      randomBytes(TOKEN_BYTES).toString('base64url'),
      'é'.repeat(TOKEN_LENGTH),
      123 as unknown as string,
    ]) {
      expect(signer.verify(junk), String(junk)).toBeUndefined();
    }
  });

  it('refuses ids it cannot carry', () => {
    expect(() => signer.sign({ ...claims, ticketId: 0 })).toThrow(RangeError);
    expect(() => signer.sign({ ...claims, seatId: 2 ** 60 })).toThrow(RangeError);
  });
});
