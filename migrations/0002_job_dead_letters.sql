-- Jobs that failed on every attempt. The queue itself (graphile-worker, schema graphile_worker)
-- forgets them; here they are kept with their payload and last error to be listed and retried.
create table job_dead_letters (
  id bigint generated always as identity primary key,
  task text not null,
  payload jsonb not null,
  attempts integer not null,
  last_error text not null,
  job_key text,
  failed_at timestamptz not null default now(),
  retried_at timestamptz
);

create index job_dead_letters_failed_at on job_dead_letters (failed_at desc);
