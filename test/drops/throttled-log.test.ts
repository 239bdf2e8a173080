import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { ThrottledLog } from '../../src/drops/throttled-log.ts';

it('logs the first failure of a kind at once and counts the rest until the next line', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const log = new ThrottledLog(pino(sink), 50);
  for (let i = 0; i < 1000; i++) log.error(new Error('down'), 'writes failed');
  log.error(new Error('other'), 'another kind');
  await new Promise((resolve) => setTimeout(resolve, 60));
  log.error(new Error('down'), 'writes failed');
  await new Promise((resolve) => setImmediate(resolve));
  expect(lines.map((l) => [l.msg, l.alsoSince])).toEqual([
    ['writes failed', undefined],
    ['another kind', undefined],
    ['writes failed', 999],
  ]);
});
