"""Stand-ins for install's trust and advisory ports: small, deterministic, no database.

`VerificationTrustScorer` scores from the verification alone (publisher 60,
provenance 40); `NoAdvisoryMatcher` matches nothing; `FixedAdvisories`
answers the findings it was given.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_security.install.domain.policy import AdvisoryFinding
from portico_security.install.domain.requests import TrustBreakdown, TrustFactor
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.provenance import PROVENANCE_CHECK
from portico_security.verification.domain.verification import Verdict

PUBLISHER_WEIGHT = 60
PROVENANCE_WEIGHT = 40


class VerificationTrustScorer:
    """Scores a signed publisher and verified provenance, nothing else."""

    async def score(
        self,
        tenant_id: str,
        plugin: str,
        version: str,
        *,
        verification: Verification,
        publisher: str,
        dependencies: Sequence[tuple[str, str]] = (),
    ) -> TrustBreakdown:
        del tenant_id, plugin, version, dependencies  # it judges the verification alone
        checks = {c.name: c for c in verification.report.checks}
        signed = verification.verdict is Verdict.VERIFIED and bool(publisher)
        provenance = checks.get(PROVENANCE_CHECK)
        proven = provenance is not None and provenance.passed
        factors = (
            TrustFactor(
                name="publisher",
                score=100 if signed else 0,
                weight=PUBLISHER_WEIGHT,
                evidence=(
                    f"signature by {publisher} verified"
                    if signed
                    else "no verified publisher signature",
                ),
            ),
            TrustFactor(
                name="provenance",
                score=100 if proven else 0,
                weight=PROVENANCE_WEIGHT,
                evidence=(
                    provenance.detail
                    if provenance is not None
                    else "no provenance attestation was checked",
                ),
            ),
        )
        total = sum(f.weight for f in factors)
        score = round(sum(f.score * f.weight for f in factors) / total)
        return TrustBreakdown(score=score, factors=factors)


class NoAdvisoryMatcher:
    """No advisory affects anything."""

    async def match(
        self, tenant_id: str, plugin: str, version: str, dependencies: Sequence[tuple[str, str]]
    ) -> tuple[AdvisoryFinding, ...]:
        del tenant_id, plugin, version, dependencies
        return ()


class FixedAdvisories:
    """Answers the same findings for every plugin version."""

    def __init__(self, *found: AdvisoryFinding) -> None:
        self.found = found

    async def match(
        self, tenant_id: str, plugin: str, version: str, dependencies: Sequence[tuple[str, str]]
    ) -> tuple[AdvisoryFinding, ...]:
        del tenant_id, plugin, version, dependencies
        return self.found
