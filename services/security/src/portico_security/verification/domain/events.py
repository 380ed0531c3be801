"""Domain events of verification: every decision is announced, verified or rejected."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class VerificationEvent:
    """Fields every verification event carries."""

    tenant_id: str
    plugin: str
    version: str
    verification_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactVerified(VerificationEvent):
    """Every check passed: these bytes are what the publisher's key signed."""

    integrity: str
    publisher: str
    key_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactRejected(VerificationEvent):
    """At least one check failed; the reasons are the failed checks' details, in order."""

    reasons: tuple[str, ...]
