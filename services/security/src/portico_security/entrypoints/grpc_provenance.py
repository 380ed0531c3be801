"""gRPC entrypoint of provenance verification: map the request, call the use case, map back."""

from __future__ import annotations

from portico.security.v1 import provenance_pb2 as pb
from portico.security.v1 import provenance_pb2_grpc as pb_grpc
from portico.security.v1 import security_pb2
from portico_common.grpc.interceptor import Context
from portico_security.app.provenance import ProvenanceVerification, verify_npm_provenance
from portico_security.domain.provenance import ProvenanceReport


def provenance_report_to_proto(report: ProvenanceReport) -> security_pb2.ProvenanceReport:
    """The wire form of a provenance report (VerifyProvenance and VerifyArtifact share it)."""
    return security_pb2.ProvenanceReport(
        builder_id=report.build.builder_id,
        build_type=report.build.build_type,
        source_repository=report.build.source_repository,
        source_commit=report.build.source_commit,
        slsa_build_level=report.slsa_build_level,
        predicate_type=report.predicate_type,
        verified=report.verified,
        attestations=[
            security_pb2.AttestationResult(
                predicate_type=a.predicate_type,
                passed=a.passed,
                detail=a.detail,
                signer_identity=a.signer_identity,
                signer_issuer=a.signer_issuer,
                key_id=a.key_id,
            )
            for a in report.attestations
        ],
    )


def report_to_proto(report: ProvenanceReport) -> pb.VerifyProvenanceResponse:
    wire = provenance_report_to_proto(report)
    return pb.VerifyProvenanceResponse(
        verdict=security_pb2.VERDICT_VERIFIED if report.verified else security_pb2.VERDICT_REJECTED,
        attestations=wire.attestations,
        provenance=wire,
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
