"""gRPC entrypoint of security: map the request, call the use case, map back."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_security.app import handlers
from portico_security.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.app.ports import UnitOfWorkFactory
from portico_security.domain.decisions import Verification
from portico_security.domain.signatures import KeyAlgorithm, PublisherKey
from portico_security.domain.verification import Verdict

# One row per algorithm; issue 3's algorithms are added here and in the domain.
_ALGORITHM_TO_DOMAIN: dict[pb.KeyAlgorithm.ValueType, KeyAlgorithm] = {
    pb.KEY_ALGORITHM_ED25519: KeyAlgorithm.ED25519
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
    created = Timestamp()
    created.FromDatetime(key.created_at)
    return pb.PublisherKey(
        tenant_id=key.tenant_id,
        publisher=key.publisher,
        key_id=key.key_id,
        algorithm=_ALGORITHM_TO_PROTO[key.algorithm],
        public_key_pem=key.public_key_pem,
        created_at=created,
    )


def verification_to_proto(verification: Verification) -> pb.VerifyArtifactResponse:
    return pb.VerifyArtifactResponse(
        verification_id=verification.verification_id,
        verdict=_VERDICT_TO_PROTO[verification.verdict],
        checks=[
            pb.CheckResult(name=check.name, passed=check.passed, detail=check.detail)
            for check in verification.report.checks
        ],
    )


class SecurityServicer(pb_grpc.SecurityServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, *, max_artifact_bytes: int) -> None:
        self._uow = uow
        self._max_artifact_bytes = max_artifact_bytes

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
            ),
            max_size=self._max_artifact_bytes,
        )
        return verification_to_proto(verification)
