-- The provenance report of a verification that carried npm's attestations:
-- builder, source repository and commit, SLSA build level, and each
-- attestation's result (JSON, see domain/provenance_codec.py). NULL when the
-- request carried no attestations. Row-level security is the table's own.

ALTER TABLE verifications
    ADD COLUMN provenance jsonb;
