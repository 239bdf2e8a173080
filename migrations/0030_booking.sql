-- Booking: seat maps, bookings and seat holds (src/booking/, docs/booking.md). The tables are private to the
-- booking module. Events belong to the catalog module: `event_id` columns carry its ids without a foreign key
-- (no SQL across module boundaries); users belong to identity, same rule for `user_id`.

-- Module settings that must outlive a process, e.g. the seed that lazily generated seat maps derive from.
create table booking_settings (
  key text primary key,
  value text not null
);

-- The hall as configured for one event: its zones carry that event's prices. Seat ids are derived from the
-- event id ((event_id - 1) * 100000 + ordinal, see src/booking/seating/layout.ts), so one event has at most
-- 100,000 seats and the seats of an event form one contiguous id range.
create table venues (
  id bigint generated always as identity primary key,
  event_id bigint not null unique check (event_id >= 1),
  name text not null,
  kind text not null,
  capacity integer not null check (capacity between 1 and 100000),
  created_at timestamptz not null default now()
);

create table venue_zones (
  id bigint generated always as identity primary key,
  venue_id bigint not null references venues,
  event_id bigint not null,
  position smallint not null check (position >= 1),
  name text not null,
  price numeric(12, 2) not null check (price >= 0),
  capacity integer not null check (capacity >= 1),
  unique (venue_id, position),
  unique (id, event_id)
);

-- Static inventory: never updated once written. Rows are numbered across the whole venue (row 1 is the
-- first row of the first zone), so `row` alone identifies a row of an event.
create table seats (
  id bigint primary key,
  event_id bigint not null,
  zone_id bigint not null,
  row_no integer not null check (row_no >= 1),
  seat_no integer not null check (seat_no >= 1),
  foreign key (zone_id, event_id) references venue_zones (id, event_id),
  -- Also the index behind `GET /api/seats?row=`.
  unique (event_id, row_no, seat_no),
  -- Target of booking_seats' foreign key.
  unique (id, event_id, zone_id)
);

-- created → pending_payment → paid → refunded, and created | pending_payment → cancelled.
create type booking_status as enum ('created', 'pending_payment', 'paid', 'cancelled', 'refunded');

create table bookings (
  id bigint generated always as identity primary key,
  event_id bigint not null,
  user_id bigint not null,
  status booking_status not null default 'created',
  -- Only an active booking may hold seats: booking_seats references (…, active = true), so a booking cannot
  -- be cancelled or refunded while it still holds a seat, whatever the application does.
  active boolean generated always as (status in ('created', 'pending_payment', 'paid')) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, event_id, user_id, active)
);

-- GET /api/bookings (a user's bookings, newest first).
create index bookings_user on bookings (user_id, id);
-- Analytics: bookings of an event.
create index bookings_event on bookings (event_id, status);

-- Who holds a seat: at most one row per seat (the primary key), so a seat can never be in two bookings at
-- once. A hold lives until `held_until`; an expired row means a FREE seat and is replaced in place by the
-- next hold (or deleted by the sweeper). `held_until` null = no expiry: the booking is pending payment, or
-- the seat is sold (`sold`).
create table booking_seats (
  seat_id bigint primary key,
  booking_id bigint not null,
  event_id bigint not null,
  user_id bigint not null,
  zone_id bigint not null,
  -- The zone's price when the seat was taken: what the booking pays for it.
  price numeric(12, 2) not null check (price >= 0),
  held_at timestamptz not null,
  held_until timestamptz,
  sold boolean not null default false,
  booking_active boolean not null default true check (booking_active),
  foreign key (booking_id, event_id, user_id, booking_active)
    references bookings (id, event_id, user_id, active),
  foreign key (seat_id, event_id, zone_id) references seats (id, event_id, zone_id),
  check (not sold or held_until is null)
);

-- A booking's seats (GET /api/bookings, cancel, payment).
create index booking_seats_booking on booking_seats (booking_id);
-- The per-user hold limit counts a user's live seats in an event.
create index booking_seats_user_event on booking_seats (user_id, event_id);
