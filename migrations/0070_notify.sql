-- Notify (docs/notify.md): recipients, templates, the delivery queue, schedules, campaigns, tracking and
-- analytics. Owned by src/notify; user ids point into users and carry no foreign keys (a module's tables are
-- its own).

-- A contact per platform user. The email comes from the user when not given.
create table notify_contacts (
  user_id bigint primary key,
  email text,
  phone text,
  time_zone text not null default 'UTC',
  locale text not null default 'en',
  country text,
  -- {"channels": {"sms": false}, "categories": {"marketing": {"email": false}}}: absent means allowed.
  preferences jsonb not null default '{}',
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index notify_contacts_country on notify_contacts (country);
create index notify_contacts_time_zone on notify_contacts (time_zone);

-- A browser's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys). Removed when the push service says gone.
create table notify_push_subscriptions (
  id bigint generated always as identity primary key,
  user_id bigint not null references notify_contacts on delete cascade,
  endpoint text not null unique,
  p256dh text not null,
  auth text not null,
  created_at timestamptz not null default now()
);
create index notify_push_subscriptions_user on notify_push_subscriptions (user_id);

-- Addresses never sent to: a hard bounce or a complaint (category '*'), or an unsubscribe (a category or '*').
create table notify_suppressions (
  channel text not null check (channel in ('email', 'push', 'sms')),
  address text not null,
  category text not null default '*',
  reason text not null check (reason in ('bounce', 'complaint', 'unsubscribe')),
  delivery_id bigint,
  created_at timestamptz not null default now(),
  primary key (channel, address, category)
);

-- Templates: a row per template, an immutable row per version. `definition` is
-- {"variables": [...], "channels": {"email": {...}, "push": {...}, "sms": {...}}}.
create table notify_templates (
  id text primary key,
  name text not null,
  description text,
  current_version integer not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create table notify_template_versions (
  template_id text not null references notify_templates on delete cascade,
  version integer not null check (version > 0),
  definition jsonb not null,
  note text,
  created_by text,
  created_at timestamptz not null default now(),
  primary key (template_id, version)
);

-- One row per message sent to one or many: an instant call, an event, a scheduled run, a campaign's send.
-- Its deliveries live in the partition of `created_on`, so (notification, recipient, channel) is unique there.
create table notify_notifications (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('instant', 'event', 'scheduled', 'bulk')),
  channel text not null check (channel in ('email', 'push', 'sms')),
  category text not null,
  template_id text,
  template_version integer,
  -- Ad-hoc content when there is no template: {"subject", "body"}.
  content jsonb,
  variables jsonb not null default '{}',
  content_id text,
  source_id bigint,
  created_on date not null,
  created_by text,
  created_at timestamptz not null default now(),
  check ((template_id is null) <> (content is null))
);
create index notify_notifications_source on notify_notifications (kind, source_id) where source_id is not null;
-- One notification per platform event (source_id is the outbox event's id), however often it is handed over.
create unique index notify_notifications_event on notify_notifications (source_id) where kind = 'event';

-- The queue and the record: one row per notification, recipient and channel, partitioned by day (partitions
-- are made ahead by the module; old ones are dropped after NOTIFY_RETENTION_DAYS). Claimed by leases.
create sequence notify_deliveries_id_seq;
create table notify_deliveries (
  id bigint not null default nextval('notify_deliveries_id_seq'),
  created_on date not null,
  notification_id bigint not null,
  user_id bigint,
  channel text not null check (channel in ('email', 'push', 'sms')),
  -- The address: an email, an E.164 phone, or a push subscription's endpoint.
  recipient text not null,
  -- What makes a recipient unique within a notification: 'user:42', 'email:a@b.c', 'push:17'…
  recipient_key text not null,
  -- 0 instant, 1 event, 2 scheduled, 3 bulk: lower goes first, and instant has its own lane.
  priority smallint not null,
  status text not null default 'pending'
    check (status in ('pending', 'sent', 'delivered', 'opened', 'failed', 'bounced', 'suppressed', 'cancelled')),
  attempts smallint not null default 0,
  next_attempt_at timestamptz not null default now(),
  lease_until timestamptz,
  dead boolean not null default false,
  provider text,
  provider_message_id text,
  last_error text,
  -- Per-recipient variables (merged over the notification's).
  variables jsonb,
  country text,
  time_zone text,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  delivered_at timestamptz,
  opened_at timestamptz,
  clicked_at timestamptz,
  failed_at timestamptz,
  primary key (created_on, id),
  unique (created_on, notification_id, recipient_key, channel)
) partition by range (created_on);
create index notify_deliveries_due on notify_deliveries (priority, next_attempt_at) where status = 'pending';
create index notify_deliveries_id on notify_deliveries (id);
create index notify_deliveries_notification on notify_deliveries (notification_id, status);
create index notify_deliveries_dead on notify_deliveries (id) where dead;
create index notify_deliveries_provider_message on notify_deliveries (provider_message_id)
  where provider_message_id is not null;

-- A day's partition, made if missing (idempotent; the module calls it ahead of time and before enqueueing).
create function notify_ensure_partition(day date) returns void language plpgsql as $$
declare
  name text := 'notify_deliveries_' || to_char(day, 'YYYYMMDD');
begin
  if to_regclass(name) is null then
    begin
      -- Room on each page (fillfactor 80) so a claim, which changes no indexed column, is a HOT update:
      -- without it every claim adds an entry to each of the table's indexes.
      execute format('create table %I partition of notify_deliveries for values from (%L) to (%L) with (fillfactor = 80)',
                     name, day, day + 1);
    exception when duplicate_table then null; -- made by a concurrent caller
    end;
  end if;
end $$;

-- A repeat of an instant call within 24 h gets the first answer (per caller and key).
create table notify_idempotency (
  principal text not null,
  key text not null,
  request_hash text not null,
  notification_id bigint not null,
  created_at timestamptz not null default now(),
  primary key (principal, key)
);
create index notify_idempotency_created on notify_idempotency (created_at);

-- Scheduled notifications (cron in an IANA zone, or 'recipient': each recipient at their own local time).
create table notify_schedules (
  id bigint generated always as identity primary key,
  name text,
  cron text not null,
  time_zone text not null,
  template_id text not null,
  channel text not null check (channel in ('email', 'push', 'sms')),
  category text not null default 'marketing',
  -- {"segment": {...}} or {"user_ids": [...]}
  audience jsonb not null,
  variables jsonb not null default '{}',
  starts_at timestamptz,
  ends_at timestamptz,
  paused boolean not null default false,
  -- The next run not yet taken (for 'recipient', the earliest over the recipients' zones).
  next_run_at timestamptz,
  last_run_at timestamptz,
  created_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index notify_schedules_due on notify_schedules (next_run_at) where not paused;

-- Each run taken once: the unique key is what makes a run missed during downtime run once, never twice.
create table notify_schedule_runs (
  schedule_id bigint not null references notify_schedules on delete cascade,
  run_at timestamptz not null,
  -- '' for a fixed zone; the recipients' zone for time_zone 'recipient'.
  zone text not null default '',
  notification_id bigint,
  recipients integer not null default 0,
  taken_at timestamptz not null default now(),
  primary key (schedule_id, run_at, zone)
);

-- Bulk campaigns: draft → scheduled → sending → sent, or cancelled. The fan-out walks the segment by user id
-- from `fanout_cursor` in batches, each batch and its cursor move in one transaction (resumable after kill -9).
create table notify_campaigns (
  id bigint generated always as identity primary key,
  name text not null,
  segment jsonb not null,
  template_id text not null,
  template_version integer,
  channel text not null check (channel in ('email', 'push', 'sms')),
  category text not null default 'marketing',
  variables jsonb not null default '{}',
  status text not null default 'draft'
    check (status in ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
  send_at timestamptz,
  recipients_estimate bigint,
  notification_id bigint,
  fanout_cursor bigint not null default 0,
  fanout_done boolean not null default false,
  recipients bigint not null default 0,
  created_by text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  cancelled_at timestamptz
);
create index notify_campaigns_due on notify_campaigns (send_at) where status in ('scheduled', 'sending');

-- Analytics, maintained incrementally with each status change (never by scanning deliveries).
create table notify_stats_daily (
  day date not null,
  channel text not null,
  country text not null default '',
  time_zone text not null default '',
  status text not null,
  count bigint not null default 0,
  primary key (day, channel, country, time_zone, status)
);

-- Time from sent to opened, as a histogram of log-spaced buckets (bucket i covers [2^(i/4), 2^((i+1)/4)) s).
create table notify_open_latency (
  day date not null,
  channel text not null,
  country text not null default '',
  time_zone text not null default '',
  bucket smallint not null,
  count bigint not null default 0,
  primary key (day, channel, country, time_zone, bucket)
);
