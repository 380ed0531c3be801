"""Verification's outside world: PostgreSQL, memory, Sigstore verifiers, event messages."""
