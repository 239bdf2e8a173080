import { describe, expect, it } from 'vitest';
import { trustProxyOf } from '../../src/platform/http/trust-proxy.ts';

describe('TRUST_PROXY', () => {
  it('empty trusts no one, a number counts hops, anything else lists addresses', () => {
    expect(trustProxyOf('')).toBe(false);
    expect(trustProxyOf('  ')).toBe(false);
    const oneHop = trustProxyOf('1') as (address: string, hop: number) => boolean;
    expect([oneHop('10.0.0.1', 0), oneHop('10.0.0.1', 1)]).toEqual([true, false]);
    expect(trustProxyOf('uniquelocal')).toEqual(['uniquelocal']);
    expect(trustProxyOf('10.0.0.0/8, loopback,')).toEqual(['10.0.0.0/8', 'loopback']);
  });
});
