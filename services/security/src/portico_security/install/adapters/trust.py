"""Trust and advisory adapters of secure install.

`FiveFactorTrustScorer` and `OsvAdvisoryMatcher` put the trust and advisory
use cases (app.trust, app.advisories) behind install's ports; the service
runs them. `VerificationTrustScorer` scores from the verification alone and
`NoAdvisoryMatcher` matches nothing: small, deterministic stand-ins for unit
tests of the install use cases.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_security.install.domain.policy import AdvisoryFinding, Severity
from portico_security.install.domain.requests import TrustBreakdown, TrustFactor
from portico_security.trust.app.advisories import AdvisoryUowFactory, match_advisories
from portico_security.trust.app.scoring import (
    PackageSignalsSource,
    ScorePlugin,
    TrustUowFactory,
    score_plugin,
)
from portico_security.trust.domain.scoring import PublisherEvidence
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.verification import Verdict

PROVENANCE_CHECK = "provenance"

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
        dependencies: Sequence[tuple[str, str]] = (),
    ) -> TrustBreakdown:
        del tenant_id, plugin, version, dependencies  # it judges the verification alone
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
        self, tenant_id: str, plugin: str, version: str, dependencies: Sequence[tuple[str, str]]
    ) -> tuple[AdvisoryFinding, ...]:
        del tenant_id, plugin, version, dependencies
        return ()


class FiveFactorTrustScorer:
    """The trust use case (five factors, tenant weights, stored verdict) behind install's port."""

    def __init__(self, uow: TrustUowFactory, signals: PackageSignalsSource) -> None:
        self._uow = uow
        self._signals = signals

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
        verified = verification.verdict is Verdict.VERIFIED
        proven = any(c.name == PROVENANCE_CHECK and c.passed for c in verification.report.checks)
        verdict = await score_plugin(
            self._uow,
            self._signals,
            ScorePlugin(
                tenant_id=tenant_id,
                plugin=plugin,
                version=version,
                publisher=PublisherEvidence(
                    identity_verified=verified and bool(publisher),
                    signature_verified=verified,
                    provenance_verified=proven,
                    slsa_level=(
                        verification.provenance.slsa_build_level
                        if proven and verification.provenance is not None
                        else 0
                    ),
                ),
                dependencies=tuple(dependencies),
                # Only a key that verified the signature vouches for the publisher's age.
                key_id=verification.key_id if verified else "",
            ),
        )
        return TrustBreakdown(
            score=verdict.trust.score,
            factors=tuple(
                TrustFactor(
                    name=f.name,
                    score=f.score,
                    weight=f.weight,
                    evidence=tuple(f"{e.signal}={e.value} ({e.points:+d})" for e in f.evidence),
                )
                for f in verdict.trust.factors
            ),
        )


class OsvAdvisoryMatcher:
    """The imported OSV advisories matched against the plugin and its dependencies."""

    def __init__(self, uow: AdvisoryUowFactory) -> None:
        self._uow = uow

    async def match(
        self, tenant_id: str, plugin: str, version: str, dependencies: Sequence[tuple[str, str]]
    ) -> tuple[AdvisoryFinding, ...]:
        matches = await match_advisories(self._uow, tenant_id, plugin, version, dependencies)
        return tuple(
            AdvisoryFinding(
                advisory_id=m.advisory_id,
                severity=_severity(m.severity.label),
                package=f"{m.package}@{m.version}",
                summary=m.summary,
                fixed_versions=m.fixed_versions,
            )
            for m in matches
        )


def _severity(label: str) -> Severity:
    try:
        return Severity(label.upper())
    except ValueError:
        return Severity.UNKNOWN
