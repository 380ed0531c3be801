"""Protobuf <-> verification domain, for the SecurityService, PublisherKeyService and
ProvenanceService servicers."""

from __future__ import annotations

from portico.security.v1 import provenance_pb2
from portico.security.v1 import security_pb2 as pb
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_security.verification.app.bundles import BundleVerification
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.provenance import BundleOutcome, ProvenanceReport
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey
from portico_security.verification.domain.verification import Verdict

# One row per algorithm; a new algorithm is added here and in the domain.
_ALGORITHM_TO_DOMAIN: dict[pb.KeyAlgorithm.ValueType, KeyAlgorithm] = {
    pb.KEY_ALGORITHM_ED25519: KeyAlgorithm.ED25519,
    pb.KEY_ALGORITHM_ECDSA_P256: KeyAlgorithm.ECDSA_P256,
}
_ALGORITHM_TO_PROTO = {domain: wire for wire, domain in _ALGORITHM_TO_DOMAIN.items()}
_VERDICT_TO_PROTO = {Verdict.VERIFIED: pb.VERDICT_VERIFIED, Verdict.REJECTED: pb.VERDICT_REJECTED}


def algorithm_from_proto(value: pb.KeyAlgorithm.ValueType) -> str:
    """The domain algorithm name, or for another value its wire name.

    The use case refuses the latter naming it: UNSPECIFIED is not read as
    Ed25519, because a default stops being safe once there are two algorithms.
    """
    known = _ALGORITHM_TO_DOMAIN.get(value)
    if known is not None:
        return known.value
    try:
        return pb.KeyAlgorithm.Name(value)
    except ValueError:  # a number this build's enum does not know
        return str(int(value))


def key_to_proto(key: PublisherKey) -> pb.PublisherKey:
    return pb.PublisherKey(
        tenant_id=key.tenant_id,
        publisher=key.publisher,
        key_id=key.key_id,
        algorithm=_ALGORITHM_TO_PROTO[key.algorithm],
        public_key_pem=key.public_key_pem,
        created_at=to_timestamp(key.created_at),
        expires_at=optional_timestamp(key.expires_at),
        revoked_at=optional_timestamp(key.revoked_at),
        revocation_reason=key.revocation_reason,
        replaced_by=key.replaced_by,
    )


def verification_to_proto(verification: Verification) -> pb.VerifyArtifactResponse:
    response = pb.VerifyArtifactResponse(
        verification_id=verification.verification_id,
        verdict=_VERDICT_TO_PROTO[verification.verdict],
        checks=[
            pb.CheckResult(name=check.name, passed=check.passed, detail=check.detail)
            for check in verification.report.checks
        ],
    )
    if verification.provenance is not None:
        response.provenance.CopyFrom(provenance_report_to_proto(verification.provenance))
    return response


def provenance_report_to_proto(report: ProvenanceReport) -> pb.ProvenanceReport:
    """The wire form of a provenance report (VerifyProvenance and VerifyArtifact share it)."""
    return pb.ProvenanceReport(
        builder_id=report.build.builder_id,
        build_type=report.build.build_type,
        source_repository=report.build.source_repository,
        source_commit=report.build.source_commit,
        slsa_build_level=report.slsa_build_level,
        predicate_type=report.predicate_type,
        verified=report.verified,
        attestations=[
            pb.AttestationResult(
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


def report_to_proto(report: ProvenanceReport) -> provenance_pb2.VerifyProvenanceResponse:
    wire = provenance_report_to_proto(report)
    return provenance_pb2.VerifyProvenanceResponse(
        verdict=pb.VERDICT_VERIFIED if report.verified else pb.VERDICT_REJECTED,
        attestations=wire.attestations,
        provenance=wire,
    )


def bundle_request_from_proto(request: provenance_pb2.VerifyBundleRequest) -> BundleVerification:
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


def bundle_outcome_to_proto(outcome: BundleOutcome) -> provenance_pb2.VerifyBundleResponse:
    return provenance_pb2.VerifyBundleResponse(
        verdict=pb.VERDICT_VERIFIED if outcome.ok else pb.VERDICT_REJECTED,
        failure_kind="" if outcome.ok else outcome.kind,
        detail="" if outcome.ok else outcome.message,
        signer_identity=outcome.signer_identity,
        signer_issuer=outcome.signer_issuer,
        key_hint=outcome.key_hint,
        payload_type=outcome.payload_type,
        payload=outcome.payload,
    )
