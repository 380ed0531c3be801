"""Where the shared conformance corpora live, read in place (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "conformance"
SIGSTORE_CASES = SHARED / "sigstore-bundle-verify"
NPM_PROVENANCE = SHARED / "npm-provenance"
