-- Every change of `booking_seats` is announced on the `booking_seats` channel, so each API process can keep
-- its in-memory seat index (src/booking/seating/availability.ts) exact: NOTIFY is delivered at commit, in
-- commit order, to every listener. Statement-level triggers over transition tables: one notification per
-- 200 changed rows, not one per row, so a batch of holds costs a few pg_notify calls.
--
-- Payload: `<xid>.<n>|<seat>:<state>,…` where state is `F` (free: the row is gone), `S` (sold), `N` (held without
-- expiry: pending payment) or the hold’s end in epoch milliseconds, rounded up (a reader may only see it
-- free later than PostgreSQL does, never earlier); `<xid>` is the writing transaction
-- (a process that made a hold knows from it whether its own notification already came back) and `<n>` counts
-- the notifications of the transaction (NOTIFY folds identical payloads of one transaction into one, which
-- could hide a change that is undone and redone in it). `reset` after a TRUNCATE. Deleting an expired hold changes nothing a reader
-- sees (it already reads as free), so the sweeper's deletes announce nothing.

-- The changes of one statement, 200 to a notification, each with the transaction and its running count.
create function booking_seats_announce(entries text[]) returns void language plpgsql as $$
declare
  n integer := coalesce(nullif(current_setting('booking.seat_notices', true), ''), '0')::integer;
begin
  for i in 1 .. coalesce(array_length(entries, 1), 0) by 200 loop
    n := n + 1;
    perform pg_notify('booking_seats', pg_current_xact_id() || '.' || n || '|'
                      || array_to_string(entries[i:i + 199], ','));
  end loop;
  perform set_config('booking.seat_notices', n::text, true);
end $$;

create function booking_seats_deleted() returns trigger language plpgsql as $$
begin
  if tg_op = 'TRUNCATE' then
    perform pg_notify('booking_seats', 'reset');
  else
    perform booking_seats_announce(array(
      select c.seat_id || ':F' from old_rows c where c.held_until is null or c.held_until > now()));
  end if;
  return null;
end $$;

create function booking_seats_written() returns trigger language plpgsql as $$
begin
  perform booking_seats_announce(array(
    select c.seat_id || ':' || case
             when c.sold then 'S'
             when c.held_until is null then 'N'
             else ceil(extract(epoch from c.held_until) * 1000)::bigint::text
           end
    from new_rows c));
  return null;
end $$;

create trigger booking_seats_inserted after insert on booking_seats
  referencing new table as new_rows for each statement execute function booking_seats_written();
create trigger booking_seats_updated after update on booking_seats
  referencing new table as new_rows for each statement execute function booking_seats_written();
create trigger booking_seats_deleted after delete on booking_seats
  referencing old table as old_rows for each statement execute function booking_seats_deleted();
create trigger booking_seats_truncated after truncate on booking_seats
  for each statement execute function booking_seats_deleted();
