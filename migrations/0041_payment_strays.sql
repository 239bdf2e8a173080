-- A gateway may create a second payment for one of our order ids: when the first ended (declined, expired)
-- before the answer to our init reached us, our repeat of that init registers a new one. Such a stray payment
-- gets a row of its own (state `reversing`, same order id) so that its money is given back and tracked like
-- any other, which needs the order id to stop being unique. The original is the order's first row.
alter table payments drop constraint payments_order_id_key;
create index payments_order on payments (order_id, id);
