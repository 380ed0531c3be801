"""gRPC entrypoints of advisories and trust: map the request, call the use case, map back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from portico.security.v1 import trust_pb2 as pb
from portico.security.v1 import trust_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.tenants import ALL_TENANTS
from portico_security.trust.app import advisories
from portico_security.trust.app import scoring as trust
from portico_security.trust.app.advisories import AdvisorySource, AdvisoryUowFactory, RawDocument
from portico_security.trust.app.scoring import PackageSignalsSource, TrustUowFactory
from portico_security.trust.domain.advisories import AdvisoryMatch
from portico_security.trust.domain.policy import TrustPolicy, TrustVerdict
from portico_security.trust.domain.scoring import FACTORS, PublisherEvidence, TrustWeights
from portico_security.trust.errors import PlatformOnlyError
from portico_security.verification.errors import InvalidRequestError

_OUTCOMES = {
    advisories.ImportOutcome.CREATED: pb.IMPORT_OUTCOME_CREATED,
    advisories.ImportOutcome.UPDATED: pb.IMPORT_OUTCOME_UPDATED,
    advisories.ImportOutcome.UNCHANGED: pb.IMPORT_OUTCOME_UNCHANGED,
}


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


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
        updated_at=_timestamp(policy.updated_at),
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
        scored_at=_timestamp(verdict.scored_at),
    )


def _dependencies(items: Sequence[pb.PackageVersion]) -> list[tuple[str, str]]:
    return [(item.name, item.version) for item in items]


class AdvisoryServicer(pb_grpc.AdvisoryServiceServicer):
    def __init__(self, uow: AdvisoryUowFactory, sources: Sequence[AdvisorySource] = ()) -> None:
        self._uow = uow
        self._sources = tuple(sources)

    async def ImportAdvisories(
        self, request: pb.ImportAdvisoriesRequest, context: Context
    ) -> pb.ImportAdvisoriesResponse:
        claims = current_claims.get()
        # Without an auth service (embedded dev mode) there are no claims to check.
        if claims is not None and claims.tenant_id != ALL_TENANTS:
            raise PlatformOnlyError("importing advisories")
        inline = [RawDocument(f"documents[{i}]", text) for i, text in enumerate(request.documents)]
        if request.from_configured_sources:
            if not self._sources:
                raise InvalidRequestError(
                    "from_configured_sources", "no advisory directory or feed is configured"
                )
            results = await advisories.import_from_sources(self._uow, self._sources, inline)
        else:
            results = await advisories.import_advisories(self._uow, inline)
        return pb.ImportAdvisoriesResponse(
            results=[
                pb.ImportResult(
                    advisory_id=r.advisory_id, outcome=_OUTCOMES[r.outcome], origin=r.origin
                )
                for r in results
            ]
        )

    async def ListAdvisoryMatches(
        self, request: pb.ListAdvisoryMatchesRequest, context: Context
    ) -> pb.ListAdvisoryMatchesResponse:
        matches = await advisories.match_advisories(
            self._uow,
            request.tenant_id,
            request.plugin,
            request.version,
            _dependencies(request.dependencies),
        )
        return pb.ListAdvisoryMatchesResponse(matches=[match_to_proto(m) for m in matches])


class TrustServicer(pb_grpc.TrustServiceServicer):
    def __init__(self, uow: TrustUowFactory, signals: PackageSignalsSource) -> None:
        self._uow = uow
        self._signals = signals

    async def ScoreTrust(
        self, request: pb.ScoreTrustRequest, context: Context
    ) -> pb.ScoreTrustResponse:
        evidence = request.publisher
        publisher = PublisherEvidence(
            identity_verified=evidence.identity_verified,
            signature_verified=evidence.signature_verified,
            key_created_at=(
                evidence.key_created_at.ToDatetime(tzinfo=UTC)
                if evidence.HasField("key_created_at")
                else None
            ),
            provenance_verified=evidence.provenance_verified,
            slsa_level=evidence.slsa_level,
        )
        verdict = await trust.score_plugin(
            self._uow,
            self._signals,
            trust.ScorePlugin(
                tenant_id=request.tenant_id,
                plugin=request.plugin,
                version=request.version,
                publisher=publisher,
                dependencies=_dependencies(request.dependencies),
                key_id=evidence.key_id,
            ),
        )
        return verdict_to_proto(verdict)

    async def GetTrustScore(
        self, request: pb.GetTrustScoreRequest, context: Context
    ) -> pb.GetTrustScoreResponse:
        verdict = await trust.get_trust_score(self._uow, request.tenant_id, request.score_id)
        return pb.GetTrustScoreResponse(verdict=verdict_to_proto(verdict))

    async def GetTrustPolicy(
        self, request: pb.GetTrustPolicyRequest, context: Context
    ) -> pb.GetTrustPolicyResponse:
        policy = await trust.get_trust_policy(self._uow, request.tenant_id)
        return pb.GetTrustPolicyResponse(policy=policy_to_proto(policy))

    async def SetTrustWeights(
        self, request: pb.SetTrustWeightsRequest, context: Context
    ) -> pb.SetTrustWeightsResponse:
        if not request.HasField("weights"):
            raise InvalidRequestError("weights", "missing")
        weights = TrustWeights(**{name: getattr(request.weights, name) for name in FACTORS})
        policy = await trust.set_trust_weights(self._uow, request.tenant_id, weights)
        return pb.SetTrustWeightsResponse(policy=policy_to_proto(policy))
