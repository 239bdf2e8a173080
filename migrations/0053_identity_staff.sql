-- Staff of the admin panel (seed 004 FR-009) and their sign-in sessions (src/identity/staff/).
create table staff (
  id bigint generated always as identity primary key,
  -- Kept lower-cased: one person, one row, however they type it.
  email text not null check (email = lower(email) and length(email) between 3 and 254),
  role text not null check (role in ('admin', 'manager', 'analyst')),
  -- 'scrypt$N$r$p$salt$hash' (src/identity/passwords.ts).
  password_hash text not null,
  status text not null default 'active' check (status in ('active', 'disabled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  password_changed_at timestamptz not null default now()
);

create unique index staff_email_key on staff (lower(email));

create table staff_sessions (
  -- SHA-256 of the random token in the cookie: a copy of this table signs nobody in.
  id bytea primary key check (length(id) = 32),
  -- What the admin API calls the session (GET/DELETE /api/admin/sessions/{id}); never the token or its hash.
  handle bigint generated always as identity unique,
  staff_id bigint not null references staff (id) on delete cascade,
  -- The synchronizer CSRF token of this session (useless without the cookie).
  csrf_token bytea not null check (length(csrf_token) = 32),
  created_at timestamptz not null,
  -- Written at most once a minute per session: the idle expiry slides with it.
  last_seen_at timestamptz not null,
  -- The absolute end, however active the session is.
  expires_at timestamptz not null,
  revoked_at timestamptz,
  user_agent text,
  ip text
);

create index staff_sessions_live_by_staff on staff_sessions (staff_id) where revoked_at is null;
create index staff_sessions_expires_at on staff_sessions (expires_at);
