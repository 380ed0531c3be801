"""The gRPC servicer behind the kernel's interceptor, on in-memory adapters."""

from __future__ import annotations

import grpc
import pytest

from portico.compat.v1 import compat_pb2 as pb
from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico.events.v1 import events_pb2
from portico_compat.adapters.memory import CompatMemoryStore
from portico_compat.settings import CompatSettings

PLUGIN = "@acme/plugin-cost-insights"
PROFILE = pb.SetHostProfileRequest(
    tenant_id="acme",
    backstage_version="1.31.0",
    node_version="20.11.1",
    packages={"react": "18.3.1"},
)


async def test_set_host_profile_returns_the_stored_profile(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """SetHostProfile answers with the profile as stored, packages included."""
    response = await stub.SetHostProfile(PROFILE)
    assert response.profile == pb.HostProfile(
        tenant_id="acme",
        backstage_version="1.31.0",
        node_version="20.11.1",
        packages={"react": "18.3.1"},
    )
    assert "acme" in store.state.host_profiles


async def test_check_maps_verdict_and_findings(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """CheckCompatibility answers with the check id, the verdict and every finding."""
    await stub.SetHostProfile(PROFILE)
    response = await stub.CheckCompatibility(
        pb.CheckCompatibilityRequest(
            tenant_id="acme",
            plugin=PLUGIN,
            version="2.3.0",
            engines={"node": ">=18"},
            peer_dependencies={"react": "^19.0.0"},
        )
    )
    assert not response.compatible
    assert list(response.findings) == [
        pb.Finding(
            dimension="runtime",
            name="node",
            required_range=">=18",
            host_version="20.11.1",
            satisfied=True,
            reason="20.11.1 satisfies '>=18'",
            verdict=pb.VERDICT_PASS,
        ),
        pb.Finding(
            dimension="peer",
            name="react",
            required_range="^19.0.0",
            host_version="18.3.1",
            satisfied=False,
            reason="18.3.1 does not satisfy '^19.0.0'",
            verdict=pb.VERDICT_FAIL,
        ),
    ]
    (event,) = store.sink.of_type(events_pb2.CompatChecked)
    assert isinstance(event, events_pb2.CompatChecked)
    assert response.check_id == event.check_id
    assert list(response.findings)[1].reason == event.findings[1].reason


async def test_check_without_profile_is_failed_precondition(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """Without a host profile the call fails with FAILED_PRECONDITION and a message to act on."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CheckCompatibility(
            pb.CheckCompatibilityRequest(tenant_id="acme", plugin=PLUGIN, version="2.3.0")
        )
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "set one with SetHostProfile" in (caught.value.details() or "")
    assert store.sink.events == []


@pytest.mark.parametrize(
    ("request_", "detail"),
    [
        (
            pb.CheckCompatibilityRequest(tenant_id="acme", plugin="", version="2.3.0"),
            "invalid plugin name",
        ),
        (
            pb.CheckCompatibilityRequest(tenant_id="acme", plugin=PLUGIN, version="2.3"),
            "invalid plugin version",
        ),
        (
            pb.CheckCompatibilityRequest(tenant_id="*", plugin=PLUGIN, version="2.3.0"),
            "tenant_id '*'",
        ),
    ],
)
async def test_malformed_check_is_invalid_argument_and_changes_nothing(
    stub: pb_grpc.CompatServiceAsyncStub,
    store: CompatMemoryStore,
    request_: pb.CheckCompatibilityRequest,
    detail: str,
) -> None:
    """A malformed check is INVALID_ARGUMENT; no check is stored and nothing is emitted."""
    await stub.SetHostProfile(PROFILE)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CheckCompatibility(request_)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert detail in (caught.value.details() or "")
    assert store.state.checks == {}
    assert store.sink.events == []


async def test_malformed_profile_is_invalid_argument(
    stub: pb_grpc.CompatServiceAsyncStub, store: CompatMemoryStore
) -> None:
    """A profile with a non-semver Node version is INVALID_ARGUMENT and nothing is stored."""
    bad = pb.SetHostProfileRequest(tenant_id="acme", backstage_version="1.31.0", node_version="20")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SetHostProfile(bad)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid host profile node_version" in (caught.value.details() or "")
    assert store.state.host_profiles == {}


def test_settings_default_to_the_compat_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """CompatSettings listens on 50064 unless PORTICO_GRPC_PORT says otherwise."""
    monkeypatch.delenv("PORTICO_GRPC_PORT", raising=False)
    assert CompatSettings().grpc_port == 50064
    monkeypatch.setenv("PORTICO_GRPC_PORT", "6000")
    assert CompatSettings().grpc_port == 6000


async def test_declared_resources_are_those_of_the_latest_recorded_check(
    stub: pb_grpc.CompatServiceAsyncStub,
) -> None:
    """The latest check's declaration is answered; with no check recorded, none is declared."""
    ask = pb.GetDeclaredResourcesRequest(tenant_id="acme", plugin=PLUGIN, version="2.3.0")
    assert await stub.GetDeclaredResources(ask) == pb.GetDeclaredResourcesResponse()
    await stub.SetHostProfile(PROFILE)
    declared = pb.ResourceRequest(cpu_millicores=1500, memory_mib=512)
    first = await stub.CheckCompatibility(
        pb.CheckCompatibilityRequest(
            tenant_id="acme", plugin=PLUGIN, version="2.3.0", resources=declared
        )
    )
    reply = await stub.GetDeclaredResources(ask)
    assert (reply.declared, reply.resources, reply.check_id) == (True, declared, first.check_id)
    # Another tenant's question sees none of acme's checks.
    other = pb.GetDeclaredResourcesRequest(tenant_id="globex", plugin=PLUGIN, version="2.3.0")
    assert not (await stub.GetDeclaredResources(other)).declared
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await stub.GetDeclaredResources(
            pb.GetDeclaredResourcesRequest(tenant_id="acme", plugin=PLUGIN, version="2.3")
        )
    assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
