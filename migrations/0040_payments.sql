-- Payments (src/payments/, docs/payments.md): what we asked the acquiring gateway, what it answered, and every
-- step of each payment's story. Private to the payments module; `booking_id`, `event_id` and `user_id` carry the
-- booking module's ids without foreign keys (no SQL across module boundaries).

-- Our side of a payment's life (the gateway's own status is kept next to it):
--   initiating  the row is written and the gateway asked; its answer has not been recorded yet
--   pending     the gateway registered it (NEW, FORM_SHOWED): the buyer is paying
--   capturing   the gateway authorized it and the booking's seats are secured: confirming it at the gateway
--   confirmed   the money is taken and the booking is paid
--   reversing   the money must go back (the booking was cancelled, or its seats are gone): cancelling it at the gateway
--   refunding   the buyer cancelled a paid booking: refunding it at the gateway
--   failed | expired | cancelled | refunded   over
create type payment_state as enum (
  'initiating', 'pending', 'capturing', 'confirmed', 'reversing', 'refunding',
  'failed', 'expired', 'cancelled', 'refunded'
);

create table payments (
  id bigint generated always as identity primary key,
  booking_id bigint not null,
  event_id bigint not null,
  user_id bigint not null,
  -- Our order id at the gateway, unique per payment: the gateway's init is idempotent per order id, so a repeat
  -- of an init whose answer was lost gets the same payment back.
  order_id text not null unique check (length(order_id) <= 64),
  -- The gateway's id, known once it answered (or a webhook named it first).
  gateway_payment_id text unique,
  state payment_state not null default 'initiating',
  -- The gateway's last status we know of (NEW … REFUNDED), and why it failed when it did.
  gateway_status text,
  failure_reason text,
  amount numeric(12, 2) not null check (amount > 0),
  -- Minor units, as sent to the gateway.
  amount_minor bigint not null check (amount_minor > 0),
  currency text not null,
  seat_count integer not null check (seat_count > 0),
  payment_url text,
  expires_at timestamptz not null,
  -- When the buyer asked for the refund: the 12-hour rule is judged at that moment.
  refund_requested_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- At most one live payment per booking (being paid, or holding the money): a booking is never paid twice. A
-- payment whose money is going or gone back (reversing, refunded) or that ended without any is not live.
create unique index payments_one_live_per_booking on payments (booking_id)
  where state not in ('failed', 'expired', 'cancelled', 'reversing', 'refunded');
create index payments_booking on payments (booking_id, id);
-- Reconciliation: payments not over, oldest change first.
create index payments_unsettled on payments (updated_at)
  where state in ('initiating', 'pending', 'capturing', 'reversing', 'refunding');

-- The ledger: one row per transition of a payment, with what made it happen. Append-only.
create table payment_transitions (
  id bigint generated always as identity primary key,
  payment_id bigint not null references payments,
  booking_id bigint not null,
  from_state payment_state,
  to_state payment_state not null,
  gateway_status text,
  -- api (our call's answer), webhook, callback (the buyer's browser came back), reconciliation, buyer
  source text not null check (source in ('api', 'webhook', 'callback', 'reconciliation', 'buyer')),
  -- The webhook delivery id, the gateway call, …
  reference text,
  detail jsonb,
  created_at timestamptz not null default now()
);
create index payment_transitions_payment on payment_transitions (payment_id, id);

-- Webhook deliveries seen, for idempotency: a retry or duplicate of one delivery (same id and status) is
-- acknowledged without being applied again.
create table payment_webhook_deliveries (
  delivery_id text not null,
  status text not null,
  gateway_payment_id text not null,
  payment_id bigint,
  outcome text not null,
  received_at timestamptz not null default now(),
  primary key (delivery_id, status)
);
