"""Protobuf <-> trust domain, for the AdvisoryService and TrustService servicers."""

from __future__ import annotations

from collections.abc import Sequence

from portico.security.v1 import trust_pb2 as pb
from portico_common.timestamps import optional_timestamp, timestamp_field, to_timestamp
from portico_security.trust.app.advisories import ImportOutcome, ImportResult
from portico_security.trust.domain.advisories import AdvisoryMatch
from portico_security.trust.domain.policy import TrustPolicy, TrustVerdict
from portico_security.trust.domain.scores import FACTORS, PublisherEvidence, TrustWeights

_OUTCOMES = {
    ImportOutcome.CREATED: pb.IMPORT_OUTCOME_CREATED,
    ImportOutcome.UPDATED: pb.IMPORT_OUTCOME_UPDATED,
    ImportOutcome.UNCHANGED: pb.IMPORT_OUTCOME_UNCHANGED,
}


def import_result_to_proto(result: ImportResult) -> pb.ImportResult:
    return pb.ImportResult(
        advisory_id=result.advisory_id, outcome=_OUTCOMES[result.outcome], origin=result.origin
    )


def publisher_from_proto(evidence: pb.PublisherEvidence) -> PublisherEvidence:
    return PublisherEvidence(
        identity_verified=evidence.identity_verified,
        signature_verified=evidence.signature_verified,
        key_created_at=timestamp_field(evidence, "key_created_at"),
        provenance_verified=evidence.provenance_verified,
        slsa_level=evidence.slsa_level,
    )


def weights_from_proto(weights: pb.TrustWeights) -> TrustWeights:
    """The domain weights; their own checks reject out-of-range values."""
    return TrustWeights(**{name: getattr(weights, name) for name in FACTORS})


def match_to_proto(match: AdvisoryMatch) -> pb.AdvisoryMatch:
    return pb.AdvisoryMatch(
        advisory_id=match.advisory_id,
        aliases=list(match.aliases),
        summary=match.summary,
        package=match.package,
        version=match.version,
        direct=match.direct,
        severity=pb.Severity(
            score=match.severity.score, label=match.severity.label, vector=match.severity.vector
        ),
        fixed_versions=list(match.fixed_versions),
        upgrade_to=match.upgrade_to,
    )


def weights_to_proto(weights: TrustWeights) -> pb.TrustWeights:
    return pb.TrustWeights(**weights.as_dict())


def policy_to_proto(policy: TrustPolicy) -> pb.TrustPolicy:
    return pb.TrustPolicy(
        tenant_id=policy.tenant_id,
        weights=weights_to_proto(policy.weights),
        customized=policy.customized,
        updated_at=optional_timestamp(policy.updated_at),
    )


def verdict_to_proto(verdict: TrustVerdict) -> pb.ScoreTrustResponse:
    return pb.ScoreTrustResponse(
        score_id=verdict.score_id,
        plugin=verdict.plugin,
        version=verdict.version,
        score=verdict.trust.score,
        factors=[
            pb.TrustFactor(
                name=f.name,
                score=f.score,
                weight=f.weight,
                evidence=[
                    pb.Evidence(
                        signal=e.signal,
                        value=e.value,
                        points=e.points,
                        scorecard_check=e.scorecard_check,
                    )
                    for e in f.evidence
                ],
            )
            for f in verdict.trust.factors
        ],
        inputs_digest=verdict.trust.inputs_digest,
        scored_at=to_timestamp(verdict.scored_at),
    )


def dependencies_from_proto(items: Sequence[pb.PackageVersion]) -> list[tuple[str, str]]:
    return [(item.name, item.version) for item in items]
