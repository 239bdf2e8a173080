-- Buyers who sign in with HTTP Basic (email:password). Ids come from the data release (1..N)
-- or, for new users, from users_id_seq.
create sequence users_id_seq;

create table users (
  id bigint primary key default nextval('users_id_seq'),
  email text not null,
  -- 'scrypt$N$r$p$salt$hash' (base64), or 'sha256$hex' for an unsalted legacy hash from the release,
  -- upgraded to scrypt at the user's first successful sign-in.
  password_hash text not null,
  first_name text,
  surname text,
  birthday date,
  registered_at timestamptz not null default now(),
  is_active boolean not null default true,
  last_logged_in timestamptz
);

alter sequence users_id_seq owned by users.id;
create unique index users_email_key on users (lower(email));
