"""Install's trust and advisory ports, served by the trust context's use cases.

`FiveFactorTrustScorer` scores with the five-factor trust use case (and stores
the verdict); `OsvAdvisoryMatcher` matches the imported OSV advisories.
"""

from __future__ import annotations

from collections.abc import Sequence

from portico_security.install.domain.policy import AdvisoryFinding, Severity
from portico_security.install.domain.requests import TrustBreakdown, TrustFactor
from portico_security.trust.app.advisories import match_advisories
from portico_security.trust.app.ports import (
    AdvisoryUowFactory,
    PackageSignalsSource,
    TrustUowFactory,
)
from portico_security.trust.app.scoring import ScorePlugin, score_plugin
from portico_security.trust.domain.scores import PublisherEvidence
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.provenance import PROVENANCE_CHECK
from portico_security.verification.domain.verification import Verdict


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
