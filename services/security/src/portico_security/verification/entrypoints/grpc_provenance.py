"""gRPC entrypoint of provenance verification: map the request, call the use case, map back."""

from __future__ import annotations

from portico.security.v1 import provenance_pb2 as pb
from portico.security.v1 import provenance_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_security.verification.app.bundles import verify_bundle
from portico_security.verification.app.ports import ProvenanceVerification
from portico_security.verification.app.provenance import verify_npm_provenance
from portico_security.verification.entrypoints.mapping import (
    bundle_outcome_to_proto,
    bundle_request_from_proto,
    report_to_proto,
)


class ProvenanceServicer(pb_grpc.ProvenanceServiceServicer):
    def __init__(self, provenance: ProvenanceVerification) -> None:
        self._verifier = provenance.verifier
        self._trust = provenance.trust

    async def VerifyProvenance(
        self, request: pb.VerifyProvenanceRequest, context: Context
    ) -> pb.VerifyProvenanceResponse:
        report = await verify_npm_provenance(
            self._verifier,
            self._trust,
            tenant_id=request.tenant_id,
            plugin=request.plugin,
            version=request.version,
            tarball=request.tarball,
            attestations=request.attestations_json,
        )
        return report_to_proto(report)

    async def VerifyBundle(
        self, request: pb.VerifyBundleRequest, context: Context
    ) -> pb.VerifyBundleResponse:
        outcome = await verify_bundle(
            self._verifier, self._trust, bundle_request_from_proto(request)
        )
        return bundle_outcome_to_proto(outcome)
