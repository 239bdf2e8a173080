import pino, { type Logger } from 'pino';
import type { Config } from '../config.ts';
import { traceLogFields } from './tracing/log-fields.ts';

/**
 * The root logger. JSON lines by default (cheap, machine-readable); `LOG_FORMAT=pretty`
 * renders them for people through pino-pretty in a worker thread. On stdout unless `fd` is 2
 * (a command whose stdout is its machine-readable answer, e.g. `boxoffice import --json`).
 */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'> & Partial<Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT'>>,
  fd: 1 | 2 = 1,
): Logger {
  const pretty = config.LOG_FORMAT === 'pretty';
  const destination = fd === 1 || pretty ? undefined : pino.destination(fd);
  const options: pino.LoggerOptions = {
    level: config.LOG_LEVEL,
    base: { pid: process.pid },
    // Traced processes put the span's ids on each line; untraced ones pay nothing for it.
    ...(config.OTEL_EXPORTER_OTLP_ENDPOINT ? { mixin: traceLogFields } : {}),
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: fd },
          },
        }
      : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
