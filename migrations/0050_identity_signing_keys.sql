-- Token signing keys (docs/identity.md, "Tokens, keys and rotation"), shared by every process.
-- A key is `next` (published in the JWKS, not yet signing), `current` (signing; exactly one), or
-- `retired` (still published until retired_at + token TTL + grace, then deleted). Times are written
-- by the application's clock, never the database's now(), so tests can cross rotation periods.
-- The private half is AES-256-GCM ciphertext (nonce || tag || ciphertext, the kid as additional
-- data) under a key derived from MASTER_KEY; `encryption_key_check` names that derived key, so a
-- process holding another master key fails with a clear message instead of a decryption error.
create table identity_signing_keys (
  kid text primary key check (length(kid) between 8 and 64),
  state text not null check (state in ('next', 'current', 'retired')),
  public_jwk jsonb not null,
  private_key_encrypted bytea not null,
  encryption_key_check text not null,
  published_at timestamptz not null,
  activated_at timestamptz,
  retired_at timestamptz,
  check ((state = 'next') = (activated_at is null)),
  check ((state = 'retired') = (retired_at is not null))
);

-- At most one current and one next key, whoever writes.
create unique index identity_signing_keys_one_current on identity_signing_keys (state) where state = 'current';
create unique index identity_signing_keys_one_next on identity_signing_keys (state) where state = 'next';
