"""gRPC entrypoint of SecurityService: register publisher keys, verify artifacts (thin)."""

from __future__ import annotations

from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import timestamp_field
from portico_security.verification.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.verification.app.keys import register_publisher_key
from portico_security.verification.app.ports import (
    ProvenanceVerification,
    VerificationUowFactory,
)
from portico_security.verification.app.verify import verify_artifact
from portico_security.verification.domain.registry_signatures import RegistryKeys
from portico_security.verification.entrypoints.mapping import (
    algorithm_from_proto,
    key_to_proto,
    verification_to_proto,
)


class SecurityServicer(pb_grpc.SecurityServiceServicer):
    def __init__(
        self,
        uow: VerificationUowFactory,
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
        key = await register_publisher_key(
            self._uow,
            RegisterPublisherKey(
                tenant_id=request.tenant_id,
                publisher=request.publisher,
                key_id=request.key_id,
                algorithm=algorithm_from_proto(request.algorithm),
                public_key_pem=request.public_key_pem,
                expires_at=timestamp_field(request, "expires_at"),
            ),
        )
        return pb.RegisterPublisherKeyResponse(key=key_to_proto(key))

    async def VerifyArtifact(
        self, request: pb.VerifyArtifactRequest, context: Context
    ) -> pb.VerifyArtifactResponse:
        verification = await verify_artifact(
            self._uow,
            VerifyArtifact(
                tenant_id=request.tenant_id,
                plugin=request.plugin,
                version=request.version,
                tarball=request.tarball,
                integrity=request.integrity,
                signature=request.signature,
                key_id=request.key_id,
                published_at=timestamp_field(request, "published_at"),
                registry_signature=request.registry_signature,
                registry_key_id=request.registry_key_id,
                attestations=request.attestations_json,
            ),
            max_size=self._max_artifact_bytes,
            registry_keys=self._registry_keys,
            provenance=self._provenance,
        )
        return verification_to_proto(verification)
