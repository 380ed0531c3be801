"""A tenant's trust policy and the stored verdicts of the trust score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_security.trust.domain.scores import DEFAULT_WEIGHTS, TrustScore, TrustWeights


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    tenant_id: str
    weights: TrustWeights
    # False while the platform defaults apply (nothing stored for the tenant).
    customized: bool
    updated_at: datetime | None


def default_policy(tenant_id: str) -> TrustPolicy:
    return TrustPolicy(
        tenant_id=tenant_id, weights=DEFAULT_WEIGHTS, customized=False, updated_at=None
    )


@dataclass(frozen=True, slots=True)
class TrustVerdict:
    """One scoring, as stored: the score, every factor with its evidence, the inputs' digest."""

    score_id: str
    tenant_id: str
    plugin: str
    version: str
    trust: TrustScore
    scored_at: datetime
