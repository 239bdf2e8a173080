import { appendAudit } from '../platform/audit/index.ts';
import type { BoxofficeModule } from '../platform/context.ts';
import type { CronSchedule } from '../platform/jobs/index.ts';
import { checkFiles, FINDING_KINDS } from './check.ts';
import { filesMetrics } from './metrics.ts';

export const SCRUB_TASK = 'files-scrub';

/** Hourly, cluster-wide once; the task scrubs only when FILES_SCRUB_INTERVAL_HOURS have passed. */
export const scrubCron: CronSchedule = { pattern: '23 * * * *', task: SCRUB_TASK, identifier: 'files-scrub' };

/**
 * The scheduled scrub: `files check` (quick, or full with FILES_SCRUB_FULL), its counts on the
 * `files_scrub_findings` gauge and `file_operations_total{operation="scrub"}`, one audit entry.
 */
export const scrubTasks: NonNullable<BoxofficeModule['tasks']> = (platform) => ({
  [SCRUB_TASK]: async (payload) => {
    const { config, db } = platform;
    const forced = (payload as { force?: boolean } | undefined)?.force === true;
    if (!config.FILES_SCRUB_ENABLED && !forced) return;
    const [last] = await db<{ finishedAt: Date }[]>`
      select finished_at as "finishedAt" from files_scrubs order by id desc limit 1`;
    if (
      !forced &&
      last &&
      Date.now() - last.finishedAt.getTime() < config.FILES_SCRUB_INTERVAL_HOURS * 3600_000
    )
      return;
    const startedAt = new Date();
    const report = await checkFiles({ db, config }, { full: config.FILES_SCRUB_FULL });
    const metrics = filesMetrics(platform.metrics, { elements: new Map() });
    for (const kind of FINDING_KINDS) metrics.scrubFindings.set({ kind }, report.counts[kind]);
    const clean = report.findings.length === 0;
    metrics.operation('scrub', clean ? 'success' : 'failure');
    await db.begin(async (tx) => {
      await tx`
        insert into files_scrubs (started_at, full_scrub, files_checked, findings)
        values (${startedAt}, ${report.full}, ${report.filesChecked}, ${tx.json(report.counts as never)})`;
      await appendAudit(tx, {
        actorType: 'system',
        actorId: null,
        action: 'files.scrub',
        resource: `storage_elements:${report.elements.join(',')}`,
        result: clean ? 'success' : 'failure',
        ...(clean ? {} : { reason: `${report.findings.length} problems found` }),
        metadata: {
          full: report.full,
          files_checked: report.filesChecked,
          counts: report.counts,
          first_findings: report.findings.slice(0, 20),
        },
      });
    });
    platform.logger[clean ? 'info' : 'error'](
      { module: 'files', filesChecked: report.filesChecked, counts: report.counts },
      clean ? 'files scrub: clean' : 'files scrub found problems',
    );
  },
});
