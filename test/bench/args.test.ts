import { afterEach, describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../../bench/lib/args.ts';

const parse = (...argv: string[]) => parseOptions(['health', '--tool', 'autocannon', ...argv], ['health']);

describe('bench --processes', () => {
  const redisUrl = process.env.REDIS_URL;
  afterEach(() => {
    if (redisUrl === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = redisUrl;
  });

  it('is absent by default, and takes a comma-separated list of counts', () => {
    process.env.REDIS_URL = 'redis://127.0.0.1:6379';
    expect(parse()?.processes).toBeNull();
    expect(parse('--processes', '1, 2')?.processes).toEqual([1, 2]);
  });

  it('refuses counts out of range, repeats, --url, and more than one process without REDIS_URL', () => {
    process.env.REDIS_URL = 'redis://127.0.0.1:6379';
    expect(() => parse('--processes', '0')).toThrow(/from 1 to 15/);
    expect(() => parse('--processes', '16')).toThrow(/from 1 to 15/);
    expect(() => parse('--processes', '1,x')).toThrow(UsageError);
    expect(() => parse('--processes', '2,2')).toThrow(/twice/);
    expect(() => parse('--processes', '1', '--url', 'http://127.0.0.1:8000')).toThrow(/--url/);
    delete process.env.REDIS_URL;
    expect(parse('--processes', '1')?.processes).toEqual([1]);
    expect(() => parse('--processes', '1,2')).toThrow(/REDIS_URL/);
  });
});
