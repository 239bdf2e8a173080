-- GET /api/bookings/{id}/payment-status reads a booking's whole ledger: without this index every read scanned
-- payment_transitions (found by the pay-flow benchmark: 2.9 ms a read at 60,000 rows, growing with every sale).
create index payment_transitions_booking on payment_transitions (booking_id, id);
