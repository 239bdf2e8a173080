import { Type } from 'typebox';
import type { HttpApp } from './types.ts';

export type HealthCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 2000;

// The pid tells which process of a `--processes N` cluster answered.
const Live = Type.Object({ status: Type.Literal('ok'), pid: Type.Integer() });
const Ready = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Record(Type.String(), Type.String(), { description: '"up", or "down: <reason>"' }),
});

/**
 * `/health/live`: the process answers. `/health/ready`: every dependency answers within
 * 2 s; otherwise 503 naming what is down, so a load balancer stops sending traffic.
 */
export function registerHealth(app: HttpApp, checks: Record<string, HealthCheck>): void {
  app.get(
    '/health/live',
    { schema: { tags: ['health'], summary: 'The process is up', response: { 200: Live } } },
    async () => ({ status: 'ok' as const, pid: process.pid }),
  );
  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'The database (and Redis when configured) answer',
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_request, reply) => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check)] as const),
      );
      const allUp = results.every(([, result]) => result === 'up');
      return reply.status(allUp ? 200 : 503).send({
        status: allUp ? 'ready' : 'unavailable',
        checks: Object.fromEntries(results),
      });
    },
  );
}

async function runCheck(check: HealthCheck): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return 'up';
  } catch (error) {
    return `down: ${(error as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}
