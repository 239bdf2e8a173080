-- Drops: hourly flash sales (src/drops/, docs/drops.md). Tables are private to the drops module.
--
-- Sale n runs from DROPS_EPOCH_SECONDS + n × DROPS_PERIOD_SECONDS for one period. Items are generated from
-- (sale, item id) by src/drops/items.ts, so they are not stored; what happened to them is.

-- One row per sale, written when the sale opens (by whichever API process sees the boundary first) and
-- updated once when it closes. Also lets a restart detect a changed epoch or period (same number, other window).
create table drop_sales (
  number bigint primary key,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  items integer not null check (items > 0),
  status text not null default 'open' check (status in ('open', 'closed')),
  opened_at timestamptz not null default now(),
  closed_at timestamptz,
  -- Purchases counted when the sale closed.
  sold integer,
  check (ends_at > starts_at)
);

-- A successful checkout: the item is held for the user until expires_at (never beyond the sale's end).
-- Written, durably, before the checkout code is returned, so a restart honours every code it handed out.
create table drop_reservations (
  code uuid primary key,
  sale bigint not null,
  item integer not null check (item >= 0),
  user_id bigint not null check (user_id >= 0),
  reserved_at timestamptz not null,
  expires_at timestamptz not null
);

-- Recovery reads the live reservations of one sale.
create index drop_reservations_sale_expires on drop_reservations (sale, expires_at);

-- A completed purchase. The primary key makes selling an item twice in a sale impossible whatever the
-- application does; the unique code makes a code single-use.
create table drop_purchases (
  sale bigint not null,
  item integer not null check (item >= 0),
  user_id bigint not null check (user_id >= 0),
  code uuid not null unique references drop_reservations (code),
  purchased_at timestamptz not null,
  primary key (sale, item)
);

-- Per-user counts (recovery of the 10-per-user rule, reports).
create index drop_purchases_sale_user on drop_purchases (sale, user_id);

-- What a checkout attempt came to. `invalid` = 400 (bad parameters), `failed` = the reservation could not
-- be made durable and the client got a 503.
create type drop_checkout_outcome as enum ('reserved', 'unavailable', 'user_limit', 'invalid', 'failed');

-- Every checkout attempt, successful or not: an append-only log written in group-committed batches.
-- It is by far the largest table (a 409 storm writes tens of thousands of rows a second, ~60 bytes each,
-- several GB an hour at full load), so it has no primary key and no B-tree: only a BRIN index, which
-- costs almost nothing on insert because rows arrive in time order. Retention and partitioning:
-- see docs/drops.md ("Size of the attempt log").
create table drop_checkout_attempts (
  sale bigint not null,
  -- Null when the request did not carry a valid value (outcome `invalid`).
  user_id bigint check (user_id >= 0),
  item integer,
  outcome drop_checkout_outcome not null,
  -- The checkout code, for outcome `reserved`.
  code uuid,
  at timestamptz not null
);

create index drop_checkout_attempts_brin on drop_checkout_attempts using brin (sale, at);
