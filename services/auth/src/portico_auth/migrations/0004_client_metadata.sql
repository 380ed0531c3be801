-- A client's metadata (free-form pairs given at registration), stored only
-- sealed with the data key of the client's one tenant: JSON under AES-256-GCM,
-- bound to that tenant, this table and column, and the client id. NULL: none.
ALTER TABLE clients ADD COLUMN metadata_sealed bytea;
