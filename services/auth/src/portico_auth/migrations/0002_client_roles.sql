-- Clients carry roles (e.g. security-approver, platform-admin); tokens carry
-- them in the `roles` claim so services decide on verified identities.
ALTER TABLE clients ADD COLUMN roles text[] NOT NULL DEFAULT '{}';
