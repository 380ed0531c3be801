"""Envelope encryption: per-tenant data keys, wrapped by a key-encryption key behind a KMS."""
