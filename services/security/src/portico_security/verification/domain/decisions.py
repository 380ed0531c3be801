"""A verification decision as it is recorded: what was claimed, and the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_security.verification.domain.provenance import ProvenanceReport
from portico_security.verification.domain.verification import Verdict, VerificationReport


@dataclass(frozen=True, slots=True)
class Verification:
    """One decision about one artifact for one tenant; every decision is kept."""

    verification_id: str
    tenant_id: str
    plugin: str
    version: str
    integrity: str
    key_id: str
    report: VerificationReport
    created_at: datetime
    # The full provenance report when attestations were checked (the stored
    # decision keeps its one-sentence "provenance" check, not this).
    provenance: ProvenanceReport | None = None

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict
