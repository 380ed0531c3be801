-- Indexes the retention purges read by: each batch finds its oldest rows at
-- once instead of scanning the table (portico_common.retention).
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX inbox_processed_at ON inbox (processed_at);
CREATE INDEX idempotency_keys_updated_at ON idempotency_keys (updated_at);
CREATE INDEX access_denials_denied_at ON access_denials (denied_at);
