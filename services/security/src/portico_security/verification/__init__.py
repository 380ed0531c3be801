"""Verification: is this tarball what its publisher signed? Integrity, publisher keys and
signatures, npm registry signatures, provenance, and the decisions taken."""
