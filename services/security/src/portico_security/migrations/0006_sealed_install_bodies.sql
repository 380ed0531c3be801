-- An install request's body sealed with the tenant's data key (approvers' comments,
-- the history and the rejection reasons that quote them). Rows written before keep
-- their plaintext body until their next write (which seals it and leaves body '{}').
ALTER TABLE install_requests ADD COLUMN body_sealed bytea;
