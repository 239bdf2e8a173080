import type { BoxofficeModule, Platform } from '../context.ts';
import type { CronSchedule } from '../jobs/index.ts';
import { loadMasterKey } from '../secrets/master-key.ts';
import { writeCheckpoint } from './checkpoints.ts';
import { failedSignIns } from './index.ts';

/** What the identity module runs for the audit log (src/identity/index.ts lists these). */

export const AUDIT_CHECKPOINT_TASK = 'audit-checkpoint';

/**
 * Every minute, cluster-wide once (graphile-worker cron); the task itself writes a checkpoint only
 * when the chain grew and the last one is AUDIT_CHECKPOINT_MINUTES old, so the interval follows
 * the configuration without a cron pattern per value.
 */
export const auditCron: CronSchedule = {
  pattern: '* * * * *',
  task: AUDIT_CHECKPOINT_TASK,
  identifier: 'audit-checkpoint',
};

export const auditTasks: NonNullable<BoxofficeModule['tasks']> = (platform) => ({
  [AUDIT_CHECKPOINT_TASK]: async () => {
    const outcome = await writeCheckpoint(platform.db, await loadMasterKey(platform.config), {
      minIntervalMinutes: platform.config.AUDIT_CHECKPOINT_MINUTES,
    });
    if (outcome.written) {
      platform.logger.info(
        { module: 'audit', checkpoint: outcome.checkpoint.head_id },
        'audit checkpoint written',
      );
    }
  },
});

/** How often the failed sign-in counts are written: the "per minute" of recordFailedSignIn. */
export const FAILED_SIGN_IN_FLUSH_MS = 60_000;

/** Flushes this process's failed sign-in counts every minute, and once more on stop. */
export const auditStarter: NonNullable<BoxofficeModule['start']> = async (platform: Platform) => {
  const log = platform.logger.child({ module: 'audit' });
  const aggregator = failedSignIns(platform);
  let flushing: Promise<unknown> = Promise.resolve();
  const flush = () => {
    flushing = flushing
      .then(() => aggregator.flush(platform))
      .catch((error: unknown) =>
        log.error({ err: error }, 'writing failed sign-ins to the audit log failed; kept for the next flush'),
      );
    return flushing;
  };
  const timer = setInterval(flush, FAILED_SIGN_IN_FLUSH_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
};
