import type { BoxofficeModule } from '../platform/context.ts';
import { runCampaigns } from './campaigns.ts';
import { ensureDefaultTemplates } from './default-templates.ts';
import { startDeliveryWorkers } from './engine/workers.ts';
import { notifyEventsConsumer } from './events.ts';
import { maintainPartitions } from './maintenance.ts';
import { quietHoursOf } from './quiet-hours.ts';
import { analyticsRoutes } from './routes/analytics.ts';
import { bulkRoutes } from './routes/bulk.ts';
import { contactRoutes } from './routes/contacts.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { templateRoutes } from './routes/templates.ts';
import { trackingRoutes } from './routes/tracking.ts';
import { runDueSchedules } from './schedules.ts';

export const NOTIFY_TASKS = {
  schedules: 'notify:schedules',
  campaigns: 'notify:campaigns',
  maintain: 'notify:maintain',
} as const;

/**
 * Notify (docs/notify.md): contacts, templates, instant, scheduled and bulk notifications over email, push
 * and SMS, delivered by workers that claim rows of the deliveries table; tracking and analytics. Routes in
 * the `api` role, delivery workers, schedules, campaigns and the events consumer in `start` and `worker`.
 */
export const notifyModule: BoxofficeModule = {
  name: 'notify',

  async routes(app, platform) {
    if (!platform.config.NOTIFY_ENABLED) return;
    // A bad NOTIFY_QUIET_HOURS stops the boot, not the first send.
    quietHoursOf(platform.config);
    await templateRoutes(app, platform);
    await contactRoutes(app, platform);
    await notificationRoutes(app, platform);
    await scheduleRoutes(app, platform);
    await bulkRoutes(app, platform);
    await trackingRoutes(app, platform);
    await analyticsRoutes(app, platform);
    await deliveryRoutes(app, platform);
  },

  // Registered even when disabled, so the cron entries always name a task; each does nothing then.
  tasks: (platform) => {
    const enabled = (run: () => Promise<void>) => async () => {
      if (platform.config.NOTIFY_ENABLED) await run();
    };
    return {
      [NOTIFY_TASKS.schedules]: enabled(() => runDueSchedules(platform)),
      [NOTIFY_TASKS.campaigns]: enabled(() => runCampaigns(platform)),
      [NOTIFY_TASKS.maintain]: enabled(() => maintainPartitions(platform)),
    };
  },

  cron: [
    { pattern: '* * * * *', task: NOTIFY_TASKS.schedules, identifier: 'notify-schedules' },
    { pattern: '* * * * *', task: NOTIFY_TASKS.campaigns, identifier: 'notify-campaigns' },
    { pattern: '17 * * * *', task: NOTIFY_TASKS.maintain, identifier: 'notify-maintain' },
  ],

  consumers: (platform) => (platform.config.NOTIFY_ENABLED ? [notifyEventsConsumer(platform)] : []),

  async background(platform) {
    if (!platform.config.NOTIFY_ENABLED) return { stop: async () => {} };
    await maintainPartitions(platform);
    await ensureDefaultTemplates(platform.db);
    return startDeliveryWorkers(platform);
  },
};
