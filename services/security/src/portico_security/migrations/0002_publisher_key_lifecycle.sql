-- The publisher key lifecycle: expiry (set at registration or by a rotation's
-- overlap window), revocation, and the key that replaced this one.
-- A key vouches only for artifacts published before expires_at, and for
-- nothing once revoked_at is set.

ALTER TABLE publisher_keys
    ADD COLUMN expires_at         timestamptz,
    ADD COLUMN revoked_at         timestamptz,
    ADD COLUMN revocation_reason  text NOT NULL DEFAULT '',
    ADD COLUMN replaced_by        text NOT NULL DEFAULT '';

-- ListPublisherKeys orders by publisher, then registration time.
CREATE INDEX publisher_keys_by_publisher
    ON publisher_keys (tenant_id, publisher, created_at);
