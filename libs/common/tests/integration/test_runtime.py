"""A service process on the kernel, end to end: gRPC, health, outbox, consumer, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from joserfc import jwt
from joserfc.jwk import OKPKey
from prometheus_client import REGISTRY

from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.grpc.tokens import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
)

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Service

pytestmark = pytest.mark.integration

SERVICE = tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"].full_name
Token = Callable[..., str]


async def _health(channel: grpc.aio.Channel, service: str = "") -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return int(response.status)


async def test_health_is_serving_once_started(running: Service) -> None:
    """After start, the server and the registered service report SERVING."""
    async with grpc.aio.insecure_channel(running.target) as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        assert await _health(channel, SERVICE) == health_pb2.HealthCheckResponse.SERVING


async def _reflected_services(channel: grpc.aio.Channel) -> list[str]:
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([request]), timeout=5
    )
    async for response in call:
        return sorted(s.name for s in response.list_services_response.service)
    return []


async def test_reflection_is_off_by_default(running: Service) -> None:
    """Without grpc_reflection the server does not describe itself to strangers."""
    async with grpc.aio.insecure_channel(running.target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _reflected_services(channel)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_lists_the_services_when_switched_on(reflective: Service) -> None:
    """With grpc_reflection (as `portico up` sets it) grpcurl-style listing works."""
    async with grpc.aio.insecure_channel(reflective.target) as channel:
        services = await _reflected_services(channel)
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services


async def test_rpc_event_flows_through_outbox_relay_and_consumer(running: Service) -> None:
    """A use case's event is relayed to JetStream and handled by the service's consumer."""
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        await stub.CreateTenant(tenancy_pb2.CreateTenantRequest(tenant_id="acme"), timeout=5)
    await asyncio.wait_for(running.arrived.wait(), 10)
    assert [(e.type, e.tenant_id, e.source) for e in running.seen] == [
        ("tenant.created", "acme", "portico/tenancy")
    ]


async def test_idempotency_key_replays_the_stored_response(running: Service) -> None:
    """A retried mutating RPC with the same key gets the first response, not a second run."""
    request = tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="Acme")
    metadata = (("idempotency-key", "create-acme-1"),)
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        first = await stub.CreateTenant(request, metadata=metadata, timeout=5)
        call = stub.CreateTenant(request, metadata=metadata, timeout=5)
        second = await call
        trailers = await call.trailing_metadata()
    assert first.tenant.display_name == "Acme #1"
    assert second == first
    assert running.servicer.calls == 1
    assert ("idempotent-replayed", "true") in tuple(trailers or ())


async def test_reused_key_for_another_request_is_invalid_argument(running: Service) -> None:
    """The same key with a different request body is refused as INVALID_ARGUMENT."""
    metadata = (("idempotency-key", "k"),)
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        await stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="A"),
            metadata=metadata,
            timeout=5,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="B"),
                metadata=metadata,
                timeout=5,
            )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "already used for a different request" in (caught.value.details() or "")


async def test_domain_error_becomes_its_status(running: Service) -> None:
    """A NotFoundError raised by the servicer reaches the client as NOT_FOUND with its message."""
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(tenancy_pb2.CreateTenantRequest(tenant_id="ghost"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no tenant 'ghost' here"


async def test_handler_past_the_deadline_is_stopped_and_its_key_freed(running: Service) -> None:
    """A call past its deadline is cancelled on the server and a retry with its key runs."""
    request = tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="slow")
    metadata = (("idempotency-key", "slow-1"),)
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(request, metadata=metadata, timeout=0.3)
        await asyncio.wait_for(running.servicer.cancelled.wait(), 5)

        async def retry() -> Any:
            try:
                return await stub.CreateTenant(request, metadata=metadata, timeout=5)
            except grpc.aio.AioRpcError as exc:  # the release may still be committing
                return exc.code()

        # Released, the key is claimable again: the retry runs instead of conflicting.
        async with asyncio.timeout(5):
            while isinstance(response := await retry(), grpc.StatusCode):
                assert response == grpc.StatusCode.ABORTED
                await asyncio.sleep(0.05)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert response.tenant.display_name == "slow #2"


async def test_calls_are_counted_by_status_for_metrics(running: Service) -> None:
    """Each RPC increments portico_grpc_requests_total under its service, method and code."""

    def count(code: str) -> float:
        labels = {"service": "kerneltest", "method": "CreateTenant", "code": code}
        return REGISTRY.get_sample_value("portico_grpc_requests_total", labels) or 0.0

    before_ok, before_missing = count("OK"), count("NOT_FOUND")
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        await stub.CreateTenant(tenancy_pb2.CreateTenantRequest(tenant_id="acme"), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.CreateTenant(tenancy_pb2.CreateTenantRequest(tenant_id="ghost"), timeout=5)
    assert count("OK") == before_ok + 1
    assert count("NOT_FOUND") == before_missing + 1


async def test_unexpected_error_is_internal_without_its_message(running: Service) -> None:
    """A bug surfaces as INTERNAL naming a trace, never the exception's text."""
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id="bug"),
                metadata=(("idempotency-key", "bug-1"),),
                timeout=5,
            )
        # The failure released the key: a retry runs again instead of conflicting.
        with pytest.raises(grpc.aio.AioRpcError) as retried:
            await stub.CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id="bug"),
                metadata=(("idempotency-key", "bug-1"),),
                timeout=5,
            )
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert (caught.value.details() or "").startswith("internal error (trace ")
    assert "hunter2" not in (caught.value.details() or "")
    assert retried.value.code() == grpc.StatusCode.INTERNAL
    assert running.servicer.calls == 2


async def test_sigterm_drains_to_not_serving_then_stops(running: Service) -> None:
    """On SIGTERM watchers see NOT_SERVING, serve() returns within the grace, the port closes."""
    async with grpc.aio.insecure_channel(running.target) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        updates = watch.__aiter__()
        assert (await anext(updates)).status == health_pb2.HealthCheckResponse.SERVING
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(10):
            assert (await anext(updates)).status == health_pb2.HealthCheckResponse.NOT_SERVING
        await asyncio.wait_for(running.task, 40)
        # The grace period (1 s) bounds shutdown; nothing waits out a library timeout.
        assert time.monotonic() - started < 5.0
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _health(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert running.task.exception() is None


async def _create(service: Service, tenant: str, token: str | None) -> Any:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    async with grpc.aio.insecure_channel(service.target) as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        return await stub.CreateTenant(
            tenancy_pb2.CreateTenantRequest(tenant_id=tenant), metadata=metadata, timeout=5
        )


async def test_call_without_a_token_is_unauthenticated(secured: Service) -> None:
    """With token checks on, a call without a bearer token never reaches the servicer."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "acme", None)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == "missing bearer token (metadata 'authorization')"
    assert secured.servicer.calls == 0


async def test_forged_token_is_unauthenticated(secured: Service) -> None:
    """A token signed by a key auth never published is refused."""
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": "test-key"})
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "tenant": "acme", "exp": 2**31}
    forged = jwt.encode({"alg": ALGORITHM, "kid": "test-key"}, claims, stranger, [ALGORITHM])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "acme", forged)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert secured.servicer.calls == 0


async def test_token_acts_for_its_own_tenant(secured: Service, token: Token) -> None:
    """A valid token for acme may act for acme, and the servicer sees who called."""
    response = await _create(secured, "acme", token("acme", subject="svc:portal"))
    assert response.tenant.tenant_id == "acme"
    [caller] = secured.servicer.callers
    assert caller is not None
    assert (caller.subject, caller.tenant_id) == ("svc:portal", "acme")


async def test_token_cannot_act_for_another_tenant(secured: Service, token: Token) -> None:
    """A token for acme asking about beta is PERMISSION_DENIED."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "beta", token("acme"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == "token for tenant 'acme' cannot act for tenant 'beta'"
    assert secured.servicer.calls == 0


async def test_platform_token_acts_for_any_tenant(secured: Service, token: Token) -> None:
    """A platform token (tenant '*') may act for a named tenant."""
    response = await _create(secured, "beta", token("*"))
    assert response.tenant.tenant_id == "beta"


async def test_no_request_may_name_the_wildcard_tenant(secured: Service, token: Token) -> None:
    """tenant_id '*' in a request is refused even with a platform token (it means every tenant)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _create(secured, "*", token("*"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert secured.servicer.calls == 0


async def test_health_needs_no_token(secured: Service) -> None:
    """Health checks stay public so orchestrators can probe a secured service."""
    async with grpc.aio.insecure_channel(secured.target) as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING


async def test_a_service_without_an_auth_target_refuses_to_start(
    database_url: str, nats_url: str, kernel_service: Any
) -> None:
    """No auth target and no PORTICO_UNSAFE_NO_AUTH: serve() refuses, naming both settings."""
    from portico_common.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="PORTICO_UNSAFE_NO_AUTH=true"):
        async with kernel_service(database_url, nats_url, None, (), unsafe=False):
            pass
