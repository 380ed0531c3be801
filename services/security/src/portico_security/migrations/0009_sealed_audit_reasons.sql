-- An audit record's reason sealed with the tenant's data key: reasons quote
-- approvers' comments and rejection reasons, which crypto-shredding must reach
-- in an append-only table too. Records written before keep their plaintext
-- reason (the table refuses UPDATE); sealed records hold reason ''.
ALTER TABLE audit_records ADD COLUMN reason_sealed bytea;
