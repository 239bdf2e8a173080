import type { Logger } from 'pino';
import type { Progress } from './seeding.ts';

/**
 * A progress bar with rate and ETA on a terminal (stderr); on anything else (CI, a pipe), one log
 * line every few seconds, so logs stay readable.
 */
export function createProgress(logger: Logger, label: string, total: number): Progress {
  const started = performance.now();
  const tty = process.stderr.isTTY === true;
  let done = 0;
  let lastDraw = 0;
  const draw = (final: boolean) => {
    const now = performance.now();
    if (!final && now - lastDraw < (tty ? 100 : 5000)) return;
    lastDraw = now;
    const seconds = (now - started) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    const eta = rate > 0 ? (total - done) / rate : 0;
    const share = total > 0 ? Math.min(1, done / total) : 1;
    if (tty) {
      const width = 30;
      const bar = '█'.repeat(Math.round(share * width)).padEnd(width, '░');
      process.stderr.write(
        `\r${label.padEnd(22)} ${bar} ${(share * 100).toFixed(1).padStart(5)}% ${done.toLocaleString('en')}/${total.toLocaleString('en')} ${Math.round(rate).toLocaleString('en')}/s ETA ${eta.toFixed(0)}s   ${final ? '\n' : ''}`,
      );
    } else {
      logger.info(
        { label, done, total, perSecond: Math.round(rate), etaSeconds: Math.round(eta) },
        'progress',
      );
    }
  };
  return {
    tick(n) {
      done += n;
      draw(false);
    },
    done() {
      done = Math.max(done, total);
      draw(true);
    },
  };
}
