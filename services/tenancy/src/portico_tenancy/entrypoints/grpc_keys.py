"""gRPC entrypoint of tenancy's data keys: map the request, call the use case, map back.

Unwrapped keys go to service identities only: besides `datakeys.read`
(which a platform admin's `*` also grants), GetDataKeys asks for the
`service` role among the token's verified roles.
"""

from __future__ import annotations

from portico.tenancy.v1 import keys_pb2 as pb
from portico.tenancy.v1 import keys_pb2_grpc as pb_grpc
from portico_common.crypto.kms import KeyEncryptionKey
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_tenancy.app import keys
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.errors import NoKmsConfiguredError, NotAServiceError

SERVICE_ROLE = "service"


class TenantKeysServicer(pb_grpc.TenantKeysServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, kek: KeyEncryptionKey | None) -> None:
        self._uow = uow
        self._kek = kek

    def _kms(self) -> KeyEncryptionKey:
        if self._kek is None:
            raise NoKmsConfiguredError
        return self._kek

    async def GetDataKeys(
        self, request: pb.GetDataKeysRequest, context: Context
    ) -> pb.GetDataKeysResponse:
        claims = current_claims.get()
        # No claims only in the explicitly unsafe mode without token checks.
        if claims is not None and SERVICE_ROLE not in claims.roles:
            raise NotAServiceError
        ring = await keys.data_keys(self._uow, self._kms(), request.tenant_id)
        return pb.GetDataKeysResponse(
            tenant_id=ring.tenant_id,
            primary_version=ring.primary,
            keys=[pb.DataKey(version=k.version, material=k.material) for k in ring.keys.values()],
            shredded=ring.shredded,
        )

    async def DescribeDataKeys(
        self, request: pb.DescribeDataKeysRequest, context: Context
    ) -> pb.DescribeDataKeysResponse:
        ring, stored = await keys.describe_data_keys(self._uow, request.tenant_id)
        return pb.DescribeDataKeysResponse(
            tenant_id=ring.tenant_id,
            primary_version=ring.primary_version or 0,
            keys=[
                pb.DataKeyInfo(
                    version=k.version,
                    kms=k.kms,
                    kek_version=k.kek_version,
                    created_at=to_timestamp(k.created_at),
                )
                for k in stored
            ],
            shredded=ring.shredded,
            shredded_at=optional_timestamp(ring.shredded_at),
        )

    async def RotateDataKey(
        self, request: pb.RotateDataKeyRequest, context: Context
    ) -> pb.RotateDataKeyResponse:
        version = await keys.rotate_data_key(self._uow, self._kms(), request.tenant_id)
        return pb.RotateDataKeyResponse(tenant_id=request.tenant_id, primary_version=version)

    async def ShredDataKeys(
        self, request: pb.ShredDataKeysRequest, context: Context
    ) -> pb.ShredDataKeysResponse:
        destroyed, at = await keys.shred_data_keys(self._uow, request.tenant_id)
        return pb.ShredDataKeysResponse(
            tenant_id=request.tenant_id, destroyed=destroyed, shredded_at=to_timestamp(at)
        )

    async def RotateKeyEncryptionKey(
        self, request: pb.RotateKeyEncryptionKeyRequest, context: Context
    ) -> pb.RotateKeyEncryptionKeyResponse:
        kek = self._kms()
        version, rewrapped = await keys.rotate_key_encryption_key(self._uow, kek)
        return pb.RotateKeyEncryptionKeyResponse(
            kms=kek.name, kek_version=version, rewrapped=rewrapped
        )
