-- Service accounts: machine clients of the platform's own APIs (docs/identity.md, "Service
-- accounts and rate limits"). The secret is never stored: secret_hash is HMAC-SHA256 of it keyed
-- with deriveKey(master, 'service-account-secrets'). Deleting is soft (deleted_at), so the audit
-- log's `service_account:<id>` references keep naming a row; a deleted account's secret_hash is
-- cleared and its name may be reused, its client_id never.
create table service_accounts (
  id bigint generated always as identity primary key,
  client_id text not null unique check (client_id ~ '^sa_[A-Za-z0-9_-]{22}$'),
  name text not null check (char_length(name) between 1 and 100),
  description text check (char_length(description) <= 500),
  role text not null check (role in ('ADMIN', 'USER', 'AUDITOR', 'READONLY')),
  status text not null default 'active' check (status in ('active', 'disabled')),
  secret_hash bytea check (octet_length(secret_hash) = 32),
  -- Bumped by every change of role, status, rate limit or secret; access tokens carry it (`sav`).
  version bigint not null default 1 check (version >= 1),
  -- Both null: the configured default (RATE_LIMIT_PER_MINUTE / RATE_LIMIT_BURST).
  rate_limit_per_minute integer check (rate_limit_per_minute between 1 and 10000000),
  rate_limit_burst integer check (rate_limit_burst between 1 and 10000000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_used_at timestamptz,
  deleted_at timestamptz,
  check ((rate_limit_per_minute is null) = (rate_limit_burst is null)),
  check (deleted_at is not null or secret_hash is not null)
);

-- Names are unique, ignoring case, among accounts not deleted.
create unique index service_accounts_name_key on service_accounts (lower(name)) where deleted_at is null;
