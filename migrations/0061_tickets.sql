-- E-tickets (docs/files.md, "E-tickets"): one PDF per paid booking, one ticket per seat. Owned by src/tickets;
-- booking ids, seat ids and file ids point into other modules' tables and carry no foreign keys (a module's
-- tables are its own: booking's reset deletes bookings without asking tickets).

-- One row per paid booking, written (state 'rendering') and committed before the PDF is made, so a redelivered
-- booking.paid finds it and re-renders the same tickets rather than new ones; 'ready' once the file is stored.
create table ticket_bookings (
  booking_id bigint primary key,
  event_id bigint not null,
  user_id bigint not null,
  state text not null default 'rendering' check (state in ('rendering', 'ready')),
  -- What is printed, as it was at issue time (the gate's answer shows it too).
  event_title text not null,
  event_starts_at timestamptz,
  venue text,
  file_id text,
  issued_at timestamptz not null default now(),
  ready_at timestamptz,
  revoked_at timestamptz,
  check ((state = 'ready') = (file_id is not null))
);

create table tickets (
  id bigint generated always as identity primary key,
  booking_id bigint not null references ticket_bookings on delete cascade,
  seat_id bigint not null,
  seat_row integer,
  seat_number integer,
  zone text,
  status text not null default 'valid' check (status in ('valid', 'used', 'revoked')),
  used_at timestamptz,
  revoked_at timestamptz,
  unique (booking_id, seat_id),
  check (status <> 'used' or used_at is not null)
);
