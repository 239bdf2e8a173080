-- The audit log (docs/identity.md, "Audit log"): append-only and hash-chained. `id` is the
-- position in the chain (1, 2, 3… without gaps, assigned by appendAudit under an advisory lock, not
-- by a sequence, so a rolled-back entry leaves no hole). `at` is stored exactly as the application
-- hashed it (millisecond precision). The unique constraints on id and prev_hash refuse a fork even
-- from a writer that bypassed the lock.
create table audit_log (
  id bigint primary key check (id >= 1),
  at timestamptz not null,
  actor_type text not null check (actor_type in ('service_account', 'staff', 'system', 'anonymous')),
  actor_id text,
  action text not null,
  resource text not null,
  result text not null check (result in ('success', 'failure', 'denied')),
  reason text,
  metadata jsonb not null default '{}',
  prev_hash text not null unique check (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text not null check (hash ~ '^[0-9a-f]{64}$')
);

-- GET /api/audit filters (newest first within each).
create index audit_log_actor on audit_log (actor_id, id desc);
create index audit_log_action on audit_log (action, id desc);
create index audit_log_resource on audit_log (resource, id desc);
create index audit_log_at on audit_log (at);

-- Append-only: no UPDATE, DELETE or TRUNCATE, whoever asks. A superuser (or the table owner) can
-- still disable or drop these triggers; that is why the chain and the signed checkpoints exist:
-- they make such an edit detectable (`boxoffice audit verify`), not impossible.
create function audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
  raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
    using errcode = 'insufficient_privilege',
          hint = 'audit entries are never changed or deleted; append a new entry instead';
end;
$$;

create trigger audit_log_no_update_delete
  before update or delete on audit_log
  for each row execute function audit_log_refuse_change();

create trigger audit_log_no_truncate
  before truncate on audit_log
  for each statement execute function audit_log_refuse_change();

-- Signed checkpoints of the chain head (Ed25519 under deriveKey(master, 'audit-checkpoints')): an
-- attacker with only database access cannot forge them, so a chain rewritten consistently from
-- some entry on, or cut short, no longer matches the last checkpoint.
create table audit_checkpoints (
  id bigint generated always as identity primary key,
  head_id bigint not null unique check (head_id >= 1),
  head_hash text not null check (head_hash ~ '^[0-9a-f]{64}$'),
  at timestamptz not null,
  signature text not null
);

create trigger audit_checkpoints_no_update_delete
  before update or delete on audit_checkpoints
  for each row execute function audit_log_refuse_change();

create trigger audit_checkpoints_no_truncate
  before truncate on audit_checkpoints
  for each statement execute function audit_log_refuse_change();
