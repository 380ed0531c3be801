"""gRPC entrypoint of the publisher key lifecycle (PublisherKeyService): rotate, revoke, list."""

from __future__ import annotations

from portico.security.v1 import keys_pb2 as pb
from portico.security.v1 import keys_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import timestamp_field
from portico_security.verification.app import keys
from portico_security.verification.app.commands import RevokePublisherKey, RotatePublisherKey
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.entrypoints.mapping import algorithm_from_proto, key_to_proto


class PublisherKeyServicer(pb_grpc.PublisherKeyServiceServicer):
    def __init__(self, uow: VerificationUowFactory) -> None:
        self._uow = uow

    async def RotatePublisherKey(
        self, request: pb.RotatePublisherKeyRequest, context: Context
    ) -> pb.RotatePublisherKeyResponse:
        rotated = await keys.rotate_publisher_key(
            self._uow,
            RotatePublisherKey(
                tenant_id=request.tenant_id,
                key_id=request.key_id,
                new_key_id=request.new_key_id,
                algorithm=algorithm_from_proto(request.algorithm),
                public_key_pem=request.public_key_pem,
                overlap=request.overlap.ToTimedelta(),
                new_key_expires_at=timestamp_field(request, "new_key_expires_at"),
            ),
        )
        return pb.RotatePublisherKeyResponse(
            old_key=key_to_proto(rotated.old_key), new_key=key_to_proto(rotated.new_key)
        )

    async def RevokePublisherKey(
        self, request: pb.RevokePublisherKeyRequest, context: Context
    ) -> pb.RevokePublisherKeyResponse:
        key = await keys.revoke_publisher_key(
            self._uow,
            RevokePublisherKey(
                tenant_id=request.tenant_id, key_id=request.key_id, reason=request.reason
            ),
        )
        return pb.RevokePublisherKeyResponse(key=key_to_proto(key))

    async def ListPublisherKeys(
        self, request: pb.ListPublisherKeysRequest, context: Context
    ) -> pb.ListPublisherKeysResponse:
        found = await keys.list_publisher_keys(self._uow, request.tenant_id, request.publisher)
        return pb.ListPublisherKeysResponse(keys=[key_to_proto(key) for key in found])
