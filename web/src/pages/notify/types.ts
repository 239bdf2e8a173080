/** The shapes of the notify APIs the operations screens read (docs/notify.md; /openapi.json, tag Notify). */
export type Channel = 'email' | 'push' | 'sms';
export const CHANNELS: Channel[] = ['email', 'push', 'sms'];

export type CampaignStatus = 'draft' | 'scheduled' | 'sending' | 'sent' | 'cancelled';

export interface Campaign {
  id: number;
  name: string;
  segment: unknown;
  template_id: string;
  template_version: number | null;
  channel: Channel;
  category: string;
  status: CampaignStatus;
  send_at: string | null;
  recipients_estimate: number | null;
  notification_id: number | null;
  created_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  cancelled_at: string | null;
  fanout: { recipients: number; done: boolean };
  progress?: Record<string, number>;
}

export interface TemplateSummary {
  id: string;
  name: string;
  current_version: number;
  definition: { channels: Partial<Record<Channel, unknown>> };
}

export interface Preview {
  template_id: string;
  version: number;
  channel: Channel;
  samples: {
    user_id: number;
    recipient: string | null;
    suppressed: string | null;
    parts: Record<string, string> | null;
    error: string | null;
  }[];
}

export interface ScheduleRun {
  run_at: string;
  zone: string;
  notification_id: number | null;
  recipients: number;
  taken_at: string;
}

export interface Schedule {
  id: number;
  name: string | null;
  cron: string;
  time_zone: string;
  template_id: string;
  channel: Channel;
  category: string;
  segment?: unknown;
  user_ids?: number[];
  paused: boolean;
  status: 'active' | 'paused' | 'finished';
  next_run_at: string | null;
  next_runs: string[];
  next_runs_by_zone?: Record<string, string[]>;
  last_run_at: string | null;
  recent_runs?: ScheduleRun[];
}

export const DELIVERY_STATUSES = [
  'pending',
  'sent',
  'delivered',
  'opened',
  'failed',
  'bounced',
  'suppressed',
  'cancelled',
] as const;

export interface Delivery {
  id: number;
  notification_id: number;
  kind: string | null;
  template_id: string | null;
  campaign_id: number | null;
  user_id: number | null;
  channel: Channel;
  recipient: string;
  status: (typeof DELIVERY_STATUSES)[number];
  dead: boolean;
  attempts: number;
  provider: string | null;
  last_error: string | null;
  country: string | null;
  created_at: string;
  next_attempt_at: string | null;
  sent_at: string | null;
  opened_at: string | null;
  failed_at: string | null;
}

export interface DeadLetter {
  id: number;
  notification_id: number;
  channel: Channel;
  recipient: string;
  attempts: number;
  provider: string | null;
  last_error: string | null;
  failed_at: string | null;
  created_at: string;
}

export interface AnalyticsNumbers {
  counts: Record<string, number>;
  delivery_rate: number | null;
  open_rate: number | null;
  click_rate: number | null;
  time_to_open: { p50: number; p95: number } | null;
}
export interface AnalyticsReport {
  from: string;
  to: string;
  groups: (AnalyticsNumbers & { key: string | null })[];
  totals: AnalyticsNumbers;
}
export interface TimeToOpen {
  total: number;
  buckets: { bucket: number; from_seconds: number; to_seconds: number; count: number }[];
}
