import pino, { type Logger } from 'pino';
import type { Config } from '../config.ts';

/**
 * The root logger. JSON lines by default (cheap, machine-readable); `LOG_FORMAT=pretty`
 * renders them for people through pino-pretty in a worker thread.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    ...(config.LOG_FORMAT === 'pretty'
      ? {
          transport: {
            target: 'pino-pretty',
            options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
          },
        }
      : {}),
  });
}
