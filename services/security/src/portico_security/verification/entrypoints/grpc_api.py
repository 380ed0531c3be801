"""gRPC entrypoint of security: map the request, call the use case, map back."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_security.verification.app import handlers
from portico_security.verification.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.verification.app.ports import UnitOfWorkFactory
from portico_security.verification.app.provenance import ProvenanceVerification
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.registry_signatures import RegistryKeys
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey
from portico_security.verification.domain.verification import Verdict
from portico_security.verification.entrypoints.grpc_provenance import provenance_report_to_proto

# One row per algorithm; issue 3's algorithms are added here and in the domain.
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


def timestamp_to_proto(moment: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp, or None (field left unset) for no time."""
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def timestamp_from_proto(message: Message, name: str) -> datetime | None:
    """The aware UTC datetime in `message.name`, or None when the field is unset."""
    if not message.HasField(name):
        return None
    stamp: Timestamp = getattr(message, name)
    return stamp.ToDatetime(tzinfo=UTC)


def key_to_proto(key: PublisherKey) -> pb.PublisherKey:
    return pb.PublisherKey(
        tenant_id=key.tenant_id,
        publisher=key.publisher,
        key_id=key.key_id,
        algorithm=_ALGORITHM_TO_PROTO[key.algorithm],
        public_key_pem=key.public_key_pem,
        created_at=timestamp_to_proto(key.created_at),
        expires_at=timestamp_to_proto(key.expires_at),
        revoked_at=timestamp_to_proto(key.revoked_at),
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


class SecurityServicer(pb_grpc.SecurityServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        max_artifact_bytes: int,
        registry_keys: RegistryKeys | None = None,
        provenance: ProvenanceVerification | None = None,
    ) -> None:
        self._uow = uow
        self._max_artifact_bytes = max_artifact_bytes
        self._registry_keys = registry_keys
        self._provenance = provenance

    async def RegisterPublisherKey(
        self, request: pb.RegisterPublisherKeyRequest, context: Context
    ) -> pb.RegisterPublisherKeyResponse:
        key = await handlers.register_publisher_key(
            self._uow,
            RegisterPublisherKey(
                tenant_id=request.tenant_id,
                publisher=request.publisher,
                key_id=request.key_id,
                algorithm=algorithm_from_proto(request.algorithm),
                public_key_pem=request.public_key_pem,
                expires_at=timestamp_from_proto(request, "expires_at"),
            ),
        )
        return pb.RegisterPublisherKeyResponse(key=key_to_proto(key))

    async def VerifyArtifact(
        self, request: pb.VerifyArtifactRequest, context: Context
    ) -> pb.VerifyArtifactResponse:
        verification = await handlers.verify_artifact(
            self._uow,
            VerifyArtifact(
                tenant_id=request.tenant_id,
                plugin=request.plugin,
                version=request.version,
                tarball=request.tarball,
                integrity=request.integrity,
                signature=request.signature,
                key_id=request.key_id,
                published_at=timestamp_from_proto(request, "published_at"),
                registry_signature=request.registry_signature,
                registry_key_id=request.registry_key_id,
                attestations=request.attestations_json,
            ),
            max_size=self._max_artifact_bytes,
            registry_keys=self._registry_keys,
            provenance=self._provenance,
        )
        return verification_to_proto(verification)
