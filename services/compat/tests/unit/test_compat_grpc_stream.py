"""CheckCompatibilityStream (and the report it shares with CheckCompatibility) on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from prometheus_client import REGISTRY

from portico.compat.v1 import compat_pb2 as pb
from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico.events.v1 import events_pb2
from portico_common.errors import UnauthenticatedError
from portico_common.grpc.tokens import Claims, TokenVerifier
from portico_compat.adapters.memory import CompatMemoryStore

if TYPE_CHECKING:
    from .conftest import Serving

PLUGIN = "@acme/plugin-cost-insights"
PROFILE = pb.SetHostProfileRequest(
    tenant_id="acme",
    backstage_version="1.31.0",
    node_version="20.11.1",
    packages={"@backstage/core-plugin-api": "1.10.0"},
)


class FakeVerifier(TokenVerifier):
    """Token "acme-token" is acme's; anything else is refused."""

    def __init__(self) -> None:
        async def no_keys() -> dict[str, Any]:
            return {"keys": []}

        super().__init__(no_keys)

    async def verify(self, token: str) -> Claims:
        if token != "acme-token":
            raise UnauthenticatedError("invalid token")
        return Claims("svc:test", "acme", (), 0, "t-1", roles=("tenant-admin",))


@pytest.fixture
async def guarded(serving: Serving) -> AsyncIterator[pb_grpc.CompatServiceAsyncStub]:
    """The same server with bearer tokens required."""
    async with serving(FakeVerifier()) as stub:
        yield stub


def request(**changes: Any) -> pb.CheckCompatibilityRequest:
    message = pb.CheckCompatibilityRequest(
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        engines={"node": ">=18"},
        peer_dependencies={"@backstage/core-plugin-api": "^1.9.0"},
        consumes=[pb.ApiRequirement(name="core.discovery", range="^1.0.0")],
        permissions=["catalog.entity.read"],
    )
    for name, value in changes.items():
        if isinstance(value, list):
            message.ClearField(name)  # type: ignore[arg-type]
            getattr(message, name).extend(value)
        elif isinstance(value, pb.ResourceRequest):
            message.resources.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


async def set_up_acme(stub: pb_grpc.CompatServiceAsyncStub, **metadata: str) -> None:
    md = tuple(metadata.items())
    await stub.SetHostProfile(PROFILE, metadata=md)
    await stub.SetHostApiCatalog(
        pb.SetHostApiCatalogRequest(
            tenant_id="acme",
            backstage_release="1.31.0",
            apis=[
                pb.HostApi(name="core.discovery", version="1.4.0"),
                pb.HostApi(name="legacy.router", version="0.9.0", removed=True),
            ],
        ),
        metadata=md,
    )
    await stub.SetReleaseManifest(
        pb.SetReleaseManifestRequest(
            tenant_id="acme",
            backstage_release="1.31.0",
            packages={"@backstage/core-plugin-api": "1.10.0"},
        ),
        metadata=md,
    )
    await stub.SetPermissionPolicy(
        pb.SetPermissionPolicyRequest(
            tenant_id="acme",
            rules=[pb.PermissionRule(pattern="catalog.*", decision=pb.PERMISSION_DECISION_ALLOW)],
        ),
        metadata=md,
    )


async def test_stream_sends_one_message_per_dimension_then_the_report(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """Four dimension messages, then the report that the event also carries."""
    await set_up_acme(stub)

    replies = [
        r
        async for r in stub.CheckCompatibilityStream(
            pb.CheckCompatibilityStreamRequest(check=request())
        )
    ]

    assert [r.WhichOneof("event") for r in replies] == ["dimension"] * 4 + ["report"]
    assert [r.dimension.dimension for r in replies[:4]] == [
        "api",
        "runtime",
        "permissions",
        "resources",
    ]
    report = replies[-1].report
    assert report.compatible
    assert [d.verdict for d in report.dimensions] == [pb.VERDICT_PASS] * 4
    assert list(report.dimensions) == [r.dimension for r in replies[:4]]
    (event,) = store.sink.of_type(events_pb2.CompatChecked)
    assert isinstance(event, events_pb2.CompatChecked)
    assert event.check_id == report.check_id


async def test_unary_report_carries_dimensions_and_evidence(
    stub: pb_grpc.CompatServiceAsyncStub,
) -> None:
    """A removed API fails the api dimension with the finding that says so."""
    await set_up_acme(stub)

    report = await stub.CheckCompatibility(
        request(consumes=[pb.ApiRequirement(name="legacy.router")])
    )

    assert not report.compatible
    api = report.dimensions[0]
    assert (api.dimension, api.verdict) == ("api", pb.VERDICT_FAIL)
    (finding,) = api.findings
    assert (finding.name, finding.verdict, finding.reason) == (
        "legacy.router",
        pb.VERDICT_FAIL,
        "removed in Backstage 1.31.0",
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"permissions": ["a", "a"]},
        {"consumes": [pb.ApiRequirement(name="")]},
        {"provides": [pb.ApiProvision(name="x", version="latest")]},
        {"installed_version": "v2"},
        {"version": "2.3"},
        {"resources": pb.ResourceRequest(cpu_millicores=10**13)},
    ],
)
async def test_bad_manifest_is_invalid_argument_on_both_forms_and_changes_nothing(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore, bad: dict[str, Any]
) -> None:
    """Unary and streamed checks refuse a malformed manifest before recording anything."""
    await set_up_acme(stub)

    with pytest.raises(grpc.aio.AioRpcError) as unary:
        await stub.CheckCompatibility(request(**bad))
    with pytest.raises(grpc.aio.AioRpcError) as streamed:
        async for _ in stub.CheckCompatibilityStream(
            pb.CheckCompatibilityStreamRequest(check=request(**bad))
        ):
            pass

    assert unary.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert streamed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert streamed.value.details() == unary.value.details()
    assert store.state.checks == {}
    assert store.sink.events == []


async def test_stream_without_host_profile_is_failed_precondition(
    stub: pb_grpc.CompatServiceAsyncStub,
) -> None:
    """The stream maps compat errors to their status codes like the interceptor does."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.CheckCompatibilityStream(
            pb.CheckCompatibilityStreamRequest(check=request())
        ):
            pass
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_stream_requires_a_token_when_tokens_are_checked(
    guarded: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """The streaming RPC checks tokens like unary ones (the kernel interceptor wraps both)."""
    await set_up_acme(guarded, authorization="Bearer acme-token")
    call = pb.CheckCompatibilityStreamRequest(check=request())

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        async for _ in guarded.CheckCompatibilityStream(call):
            pass
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        async for _ in guarded.CheckCompatibilityStream(
            call, metadata=(("authorization", "Bearer forged"),)
        ):
            pass
    replies = [
        r
        async for r in guarded.CheckCompatibilityStream(
            call, metadata=(("authorization", "Bearer acme-token"),)
        )
    ]

    assert missing.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert forged.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert replies[-1].report.compatible
    assert len(store.state.checks) == 1


async def test_stream_refuses_a_token_for_another_tenant(
    guarded: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """acme's token cannot stream a check for globex."""
    check = request(tenant_id="globex")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in guarded.CheckCompatibilityStream(
            pb.CheckCompatibilityStreamRequest(check=check),
            metadata=(("authorization", "Bearer acme-token"),),
        ):
            pass

    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert store.state.checks == {}


async def test_declared_resources_without_a_projected_quota_fail_the_check(
    stub: pb_grpc.CompatServiceAsyncStub,
) -> None:
    """A set `resources` field is checked; unknown quota fails the resources dimension."""
    await set_up_acme(stub)

    report = await stub.CheckCompatibility(
        request(resources=pb.ResourceRequest(cpu_millicores=250, memory_mib=256))
    )

    resources = report.dimensions[3]
    assert (resources.dimension, resources.verdict) == ("resources", pb.VERDICT_FAIL)
    assert resources.findings[0].required_range == "250 millicores"
    assert not report.compatible


def stream_count(code: str) -> float:
    value = REGISTRY.get_sample_value(
        "portico_grpc_requests_total",
        {"service": "compat", "method": "CheckCompatibilityStream", "code": code},
    )
    return value or 0.0


async def test_streamed_calls_are_counted_by_status(stub: pb_grpc.CompatServiceAsyncStub) -> None:
    """The streaming RPC feeds the same request metric as unary ones, by status code."""
    ok, invalid = stream_count("OK"), stream_count("INVALID_ARGUMENT")
    await set_up_acme(stub)

    async for _ in stub.CheckCompatibilityStream(
        pb.CheckCompatibilityStreamRequest(check=request())
    ):
        pass
    with pytest.raises(grpc.aio.AioRpcError):
        async for _ in stub.CheckCompatibilityStream(
            pb.CheckCompatibilityStreamRequest(check=request(version="x"))
        ):
            pass

    assert stream_count("OK") == ok + 1
    assert stream_count("INVALID_ARGUMENT") == invalid + 1
