-- The daily retention job deletes webhook deliveries by age (PAYMENT_WEBHOOK_RETENTION_DAYS): without this
-- index each run would scan the whole table, which grows by about three rows per payment.
create index payment_webhook_deliveries_received on payment_webhook_deliveries (received_at);
