-- The outbox: a module inserts its domain event in the same transaction as the write it announces.
-- `id` is insertion order; `position` is assigned afterwards by the single sequencer in the order
-- rows become visible, which is the order consumers read. Reading by `position` never skips an
-- event whose transaction committed late, as reading by `id` would.
create table outbox_events (
  id bigint generated always as identity primary key,
  position bigint unique,
  topic text not null,
  key text,
  payload jsonb not null,
  created_at timestamptz not null default now()
);

create index outbox_events_unsequenced on outbox_events (id) where position is null;

-- One durable cursor per consumer: the last position it fully handled.
create table outbox_cursors (
  consumer text primary key,
  position bigint not null default 0,
  updated_at timestamptz not null default now()
);
