-- GET /api/bookings without paging lists every booking of the user that is pending payment or paid: this finds
-- them without walking the user's other bookings, which are unbounded (a client may create one per attempt).
-- Small: such bookings hold seats, at most BOOKING_MAX_SEATS_PER_USER per user and event. (Not CONCURRENTLY: a
-- concurrent build waits for every open transaction, including other processes queued on the migration lock.)
create index bookings_user_paying on bookings (user_id, id) where status in ('pending_payment', 'paid');
