"""gRPC entrypoint of provenance verification: map the request, call the use case, map back."""

from __future__ import annotations

from portico.security.v1 import provenance_pb2 as pb
from portico.security.v1 import provenance_pb2_grpc as pb_grpc
from portico.security.v1 import security_pb2
from portico_common.grpc.interceptor import Context
from portico_security.verification.app.bundles import BundleVerification, verify_bundle
from portico_security.verification.app.provenance import (
    ProvenanceVerification,
    verify_npm_provenance,
)
from portico_security.verification.domain.provenance import BundleOutcome, ProvenanceReport


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


def bundle_request_from_proto(request: pb.VerifyBundleRequest) -> BundleVerification:
    """The use case's view of a VerifyBundle request (an unset subject is DSSE-only)."""
    signer = request.WhichOneof("signer")
    return BundleVerification(
        tenant_id=request.tenant_id,
        bundle_json=request.bundle_json,
        artifact=request.artifact if request.WhichOneof("subject") == "artifact" else None,
        trusted_root_json=request.trusted_root_json,
        public_key_pem=request.public_key_pem if signer == "public_key_pem" else None,
        identity=request.keyless.identity if signer == "keyless" else None,
        issuer=request.keyless.issuer if signer == "keyless" else None,
    )


def bundle_outcome_to_proto(outcome: BundleOutcome) -> pb.VerifyBundleResponse:
    return pb.VerifyBundleResponse(
        verdict=security_pb2.VERDICT_VERIFIED if outcome.ok else security_pb2.VERDICT_REJECTED,
        failure_kind="" if outcome.ok else outcome.kind,
        detail="" if outcome.ok else outcome.message,
        signer_identity=outcome.signer_identity,
        signer_issuer=outcome.signer_issuer,
        key_hint=outcome.key_hint,
        payload_type=outcome.payload_type,
        payload=outcome.payload,
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
