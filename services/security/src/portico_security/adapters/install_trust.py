"""Trust and advisory adapters for secure install that need nothing but the verification.

`VerificationTrustScorer` scores from what VerifyArtifact established (a
verified publisher signature, a verified provenance check); it is what
InstallSecure uses where the five-factor trust use case is not wired in.
`NoAdvisoryMatcher` is the matcher of a deployment without an advisory feed.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_security.domain.decisions import Verification
from portico_security.domain.install import TrustBreakdown, TrustFactor
from portico_security.domain.policy import AdvisoryFinding
from portico_security.domain.verification import Verdict

PUBLISHER_WEIGHT = 60
PROVENANCE_WEIGHT = 40


class VerificationTrustScorer:
    async def score(
        self,
        tenant_id: str,
        plugin: str,
        version: str,
        *,
        verification: Verification,
        publisher: str,
    ) -> TrustBreakdown:
        del tenant_id, plugin, version  # the verification says all this scorer uses
        checks = {c.name: c for c in verification.report.checks}
        signed = verification.verdict is Verdict.VERIFIED and bool(publisher)
        provenance = checks.get("provenance")
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
    async def match(
        self, tenant_id: str, plugin: str, version: str, dependencies: Sequence[str]
    ) -> tuple[AdvisoryFinding, ...]:
        del tenant_id, plugin, version, dependencies
        return ()
