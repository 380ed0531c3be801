"""The interceptor's handling of idempotency keys when their release cannot be written."""

from __future__ import annotations

from typing import Any, cast

import pytest

from portico.tenancy.v1 import tenancy_pb2
from portico_common.grpc.idempotency import IdempotencyStore
from portico_common.grpc.interceptor import PorticoServerInterceptor

METHOD = "/portico.tenancy.v1.TenancyService/CreateTenant"


class _Store:
    """Claims every key; its release fails as PostgreSQL gone away would."""

    def __init__(self) -> None:
        self.released: list[str] = []

    async def begin(self, *_: object, **__: object) -> bytes | None:
        return None

    async def release(self, _tenant: str, key: str, _attempt: str = "") -> None:
        self.released.append(key)
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")


class _Context:
    def time_remaining(self) -> float | None:
        return None


class _HandlerFailedError(Exception):
    pass


async def test_the_handlers_error_is_raised_when_the_keys_release_fails() -> None:
    """A request that failed reports its own error, not the outage that kept its key
    from being released (the store keeps such a key to release later)."""
    store = _Store()
    interceptor = PorticoServerInterceptor(
        "tenancy", verifier=None, idempotency=cast("IdempotencyStore", store)
    )

    async def failing(request: Any, context: Any) -> Any:
        raise _HandlerFailedError("the handler failed")

    # The idempotency step alone, without a server.
    with pytest.raises(_HandlerFailedError, match="the handler failed"):
        await interceptor._call(
            METHOD,
            True,
            failing,
            tenancy_pb2.CreateTenantRequest(tenant_id="acme"),
            cast("Any", _Context()),
            {"idempotency-key": "k1"},
        )
    assert store.released == ["k1"]
