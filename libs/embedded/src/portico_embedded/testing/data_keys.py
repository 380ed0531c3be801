"""A stand-in for tenancy's GetDataKeys, for services' tests that seal fields.

It serves `portico.tenancy.v1.TenantKeysService` from keys held in memory
(`StaticDataKeys`, which the test can rotate or shred), on a port it binds
itself. The real tenancy is tested with its KMS in its own suite; tests that
prove crypto-shredding end to end run the real one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from portico.tenancy.v1 import keys_pb2 as pb
from portico.tenancy.v1 import keys_pb2_grpc as pb_grpc
from portico_common.crypto.keyring import StaticDataKeys


class _StaticKeysServicer(pb_grpc.TenantKeysServiceServicer):
    def __init__(self, keys: StaticDataKeys) -> None:
        self.keys = keys
        self.requests = 0

    async def GetDataKeys(  # noqa: N802 - the generated servicer's name
        self,
        request: pb.GetDataKeysRequest,
        context: grpc.aio.ServicerContext[pb.GetDataKeysRequest, pb.GetDataKeysResponse],  # noqa: ARG002
    ) -> pb.GetDataKeysResponse:
        self.requests += 1
        ring = await self.keys.keys_for(request.tenant_id)
        return pb.GetDataKeysResponse(
            tenant_id=ring.tenant_id,
            primary_version=ring.primary,
            keys=[pb.DataKey(version=k.version, material=k.material) for k in ring.keys.values()],
            shredded=ring.shredded,
        )

    # Only GetDataKeys is stood in for; the test drives rotation and shredding on `keys`.
    async def _unimplemented(self, context: Any) -> NoReturn:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the stand-in serves GetDataKeys only")
        raise AssertionError  # abort raises

    async def DescribeDataKeys(self, request: Any, context: Any) -> Any:  # noqa: N802, ARG002
        await self._unimplemented(context)

    async def RotateDataKey(self, request: Any, context: Any) -> Any:  # noqa: N802, ARG002
        await self._unimplemented(context)

    async def ShredDataKeys(self, request: Any, context: Any) -> Any:  # noqa: N802, ARG002
        await self._unimplemented(context)

    async def RotateKeyEncryptionKey(self, request: Any, context: Any) -> Any:  # noqa: N802, ARG002
        await self._unimplemented(context)


@dataclass
class DataKeysServer:
    """Where the stand-in listens, the keys it hands out, and how often it was asked."""

    target: str
    keys: StaticDataKeys
    servicer: _StaticKeysServicer

    @property
    def requests(self) -> int:
        return self.servicer.requests


@asynccontextmanager
async def serving_data_keys(keys: StaticDataKeys | None = None) -> AsyncIterator[DataKeysServer]:
    """`async with serving_data_keys() as tenancy:` give services `tenancy.target`."""
    servicer = _StaticKeysServicer(keys or StaticDataKeys())
    server = grpc.aio.server()
    pb_grpc.add_TenantKeysServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield DataKeysServer(f"127.0.0.1:{port}", servicer.keys, servicer)
    finally:
        await server.stop(grace=None)
