"""gRPC entrypoints of advisories and trust: map the request, call the use case, map back."""

from __future__ import annotations

from collections.abc import Sequence

from portico.security.v1 import trust_pb2 as pb
from portico.security.v1 import trust_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.tenants import ALL_TENANTS
from portico_security.trust.app import advisories, scoring
from portico_security.trust.app.ports import (
    AdvisorySource,
    AdvisoryUowFactory,
    PackageSignalsSource,
    RawDocument,
    TrustUowFactory,
)
from portico_security.trust.entrypoints.mapping import (
    dependencies_from_proto,
    import_result_to_proto,
    match_to_proto,
    policy_to_proto,
    publisher_from_proto,
    verdict_to_proto,
    weights_from_proto,
)
from portico_security.trust.errors import InvalidTrustRequestError, PlatformOnlyError


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
                raise InvalidTrustRequestError(
                    "from_configured_sources", "no advisory directory or feed is configured"
                )
            results = await advisories.import_from_sources(self._uow, self._sources, inline)
        else:
            results = await advisories.import_advisories(self._uow, inline)
        return pb.ImportAdvisoriesResponse(results=[import_result_to_proto(r) for r in results])

    async def ListAdvisoryMatches(
        self, request: pb.ListAdvisoryMatchesRequest, context: Context
    ) -> pb.ListAdvisoryMatchesResponse:
        matches = await advisories.match_advisories(
            self._uow,
            request.tenant_id,
            request.plugin,
            request.version,
            dependencies_from_proto(request.dependencies),
        )
        return pb.ListAdvisoryMatchesResponse(matches=[match_to_proto(m) for m in matches])


class TrustServicer(pb_grpc.TrustServiceServicer):
    def __init__(self, uow: TrustUowFactory, signals: PackageSignalsSource) -> None:
        self._uow = uow
        self._signals = signals

    async def ScoreTrust(
        self, request: pb.ScoreTrustRequest, context: Context
    ) -> pb.ScoreTrustResponse:
        verdict = await scoring.score_plugin(
            self._uow,
            self._signals,
            scoring.ScorePlugin(
                tenant_id=request.tenant_id,
                plugin=request.plugin,
                version=request.version,
                publisher=publisher_from_proto(request.publisher),
                dependencies=dependencies_from_proto(request.dependencies),
                key_id=request.publisher.key_id,
            ),
        )
        return verdict_to_proto(verdict)

    async def GetTrustScore(
        self, request: pb.GetTrustScoreRequest, context: Context
    ) -> pb.GetTrustScoreResponse:
        verdict = await scoring.get_trust_score(self._uow, request.tenant_id, request.score_id)
        return pb.GetTrustScoreResponse(verdict=verdict_to_proto(verdict))

    async def GetTrustPolicy(
        self, request: pb.GetTrustPolicyRequest, context: Context
    ) -> pb.GetTrustPolicyResponse:
        policy = await scoring.get_trust_policy(self._uow, request.tenant_id)
        return pb.GetTrustPolicyResponse(policy=policy_to_proto(policy))

    async def SetTrustWeights(
        self, request: pb.SetTrustWeightsRequest, context: Context
    ) -> pb.SetTrustWeightsResponse:
        if not request.HasField("weights"):
            raise InvalidTrustRequestError("weights", "missing")
        weights = weights_from_proto(request.weights)
        policy = await scoring.set_trust_weights(self._uow, request.tenant_id, weights)
        return pb.SetTrustWeightsResponse(policy=policy_to_proto(policy))
