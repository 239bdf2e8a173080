import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/platform/audit/canonical-json.ts';

describe('RFC 8785 JSON canonicalization', () => {
  it('matches the RFC 8785 §3.2.2 example (literals, numbers, string escapes, member order)', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",' +
        '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control\\u007f",' +
        '"\\u00f6":"Latin Small Letter O With Diaeresis"}',
    );
    const keys = [...canonicalJson(input).matchAll(/"([^"]+)":"([^"]+)"/g)].map((m) => m[2]);
    expect(keys).toEqual([
      'Carriage Return',
      'One',
      'Control\u007f',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
  });

  it('writes numbers as ECMAScript does (RFC 8785 Appendix B samples)', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '0'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [9007199254740992, '9007199254740992'],
      [295147905179352830000, '295147905179352830000'],
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
      [-1.5, '-1.5'],
    ];
    for (const [value, text] of cases) expect(canonicalJson(value)).toBe(text);
  });

  it('refuses what JSON cannot hold and drops undefined members', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(/NaN/);
    expect(() => canonicalJson(Number.POSITIVE_INFINITY)).toThrow();
    expect(() => canonicalJson(10n)).toThrow(/bigint/);
    expect(canonicalJson({ b: undefined, a: [undefined, 1], c: { z: 1, y: [] } })).toBe(
      '{"a":[null,1],"c":{"y":[],"z":1}}',
    );
  });
});
