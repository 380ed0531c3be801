"""DependencyService over real gRPC, served by the compat process on real PostgreSQL and NATS."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from portico.compat.v1 import compat_pb2, compat_pb2_grpc
from portico.compat.v1 import dependencies_pb2 as pb
from portico.compat.v1 import dependencies_pb2_grpc as pb_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process

pytestmark = pytest.mark.integration

CORE = "@backstage/core-plugin-api"


def packument(versions: dict[str, dict[str, object]]) -> dict[str, object]:
    return {"versions": versions}


CATALOG = {
    CORE: packument({"1.9.0": {}, "1.10.0": {}, "2.0.0": {}}),
    "@acme/plugin-a": packument(
        {
            "1.9.0": {"peerDependencies": {CORE: "^1.9.0"}},
            "2.0.0": {"peerDependencies": {CORE: "^2.0.0"}},
        }
    ),
    "@acme/plugin-c": packument(
        {
            "1.4.0": {"peerDependencies": {CORE: "^1.9.0"}},
            "2.0.0": {"peerDependencies": {CORE: "^1.9.0 || ^2.0.0"}},
        }
    ),
    # Each level accepts any version of the next; the last one needs what nobody has.
    **{
        f"@acme/deep-{i}": packument(
            {
                f"1.{v}.0": {
                    "dependencies": {f"@acme/deep-{i + 1}": "*"} if i < 14 else {"@x/none": "^1"},
                    "peerDependencies": {CORE: "*"},
                }
                for v in range(10)
            }
        )
        for i in range(15)
    },
}


def tenant() -> str:
    return unique("t").replace("_", "-")


def installed(*pairs: tuple[str, str]) -> list[pb.InstalledPackage]:
    return [pb.InstalledPackage(name=n, version=v) for n, v in pairs]


@pytest.fixture
async def compat_service(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    """`python -m portico_compat` with a catalog file; it must stop cleanly on SIGTERM."""
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    url = await service_database_url("compat")
    env = infra_env(url, nats_url, catalog_file=str(catalog), solver_max_rounds="300")
    async with running_process("portico_compat", env, tmp_path) as service:
        yield service


@pytest.fixture
def compat_target(compat_service: ServiceProcess) -> str:
    return compat_service.target


@pytest.fixture
async def stub(compat_target: str) -> AsyncIterator[pb_grpc.DependencyServiceAsyncStub]:
    async with grpc.aio.insecure_channel(compat_target) as channel:
        yield pb_grpc.DependencyServiceStub(channel)


async def test_solve_and_explain_over_grpc(stub: pb_grpc.DependencyServiceAsyncStub) -> None:
    """A fitting request returns the set; a clashing one returns the chain of reasons."""
    t = tenant()
    ok = await stub.SolveDependencies(
        pb.SolveDependenciesRequest(
            tenant_id=t,
            installed=installed((CORE, "1.10.0")),
            requested=[pb.RequestedPackage(name="@acme/plugin-c", range="^2.0.0")],
        ),
        timeout=10,
    )
    assert ok.satisfiable
    assert {(p.name, p.version, p.change) for p in ok.packages} == {
        (CORE, "1.10.0", pb.CHANGE_KIND_UNCHANGED),
        ("@acme/plugin-c", "2.0.0", pb.CHANGE_KIND_ADDED),
    }

    clash = await stub.SolveDependencies(
        pb.SolveDependenciesRequest(
            tenant_id=t,
            installed=installed((CORE, "1.10.0"), ("@acme/plugin-a", "1.9.0")),
            requested=[pb.RequestedPackage(name="@acme/plugin-a", range="^2.0.0")],
        ),
        timeout=10,
    )
    assert not clash.satisfiable
    assert clash.explanation.text == (
        "Because @acme/plugin-a 2.0.0 needs peer @backstage/core-plugin-api ^2.0.0"
        " and installed @backstage/core-plugin-api 1.10.0 is required,"
        " @acme/plugin-a 2.0.0 cannot be installed next to installed"
        " @backstage/core-plugin-api 1.10.0;"
        " upgrade @backstage/core-plugin-api to >= 2.0.0 or stay on @acme/plugin-a 1.9.0"
    )
    assert list(clash.explanation.broken_installed) == [f"{CORE} 1.10.0"]


async def test_predict_upgrade_impact_over_grpc(stub: pb_grpc.DependencyServiceAsyncStub) -> None:
    """Predicting A 2.x lists installed C 1.4 as broken, and the plan that upgrades C and core."""
    reply = await stub.PredictUpgradeImpact(
        pb.PredictUpgradeImpactRequest(
            tenant_id=tenant(),
            installed=installed(
                (CORE, "1.10.0"), ("@acme/plugin-a", "1.9.0"), ("@acme/plugin-c", "1.4.0")
            ),
            plugin="@acme/plugin-a",
            target_range="^2.0.0",
        ),
        timeout=10,
    )
    assert not reply.safe
    assert [(b.name, b.version) for b in reply.broken] == [("@acme/plugin-c", "1.4.0")]
    assert "upgrade @acme/plugin-c to >= 2.0.0" in reply.broken[0].suggestions
    assert {(p.name, p.version, p.change) for p in reply.plan} == {
        (CORE, "2.0.0", pb.CHANGE_KIND_UPGRADED),
        ("@acme/plugin-a", "2.0.0", pb.CHANGE_KIND_UPGRADED),
        ("@acme/plugin-c", "2.0.0", pb.CHANGE_KIND_UPGRADED),
    }


async def test_budget_and_bad_input_map_to_status_codes(
    stub: pb_grpc.DependencyServiceAsyncStub,
) -> None:
    """A solve past its round budget is RESOURCE_EXHAUSTED, promptly; a bad range is invalid."""
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as exhausted:
        await stub.SolveDependencies(
            pb.SolveDependenciesRequest(
                tenant_id=tenant(),
                requested=[pb.RequestedPackage(name="@acme/deep-0", range="*")],
                budget=pb.SolverBudget(max_rounds=5),
            ),
            timeout=20,
        )
    assert exhausted.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "budget" in (exhausted.value.details() or "")
    assert time.monotonic() - started < 5
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await stub.SolveDependencies(
            pb.SolveDependenciesRequest(
                tenant_id=tenant(),
                requested=[pb.RequestedPackage(name="@acme/plugin-a", range="^^^ nope")],
            ),
            timeout=10,
        )
    assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_solve_uses_the_host_profile_when_no_installed_list_is_given(
    stub: pb_grpc.DependencyServiceAsyncStub, compat_target: str
) -> None:
    """The packages recorded with SetHostProfile are what the tenant has installed."""
    t = tenant()
    async with grpc.aio.insecure_channel(compat_target) as channel:
        await compat_pb2_grpc.CompatServiceStub(channel).SetHostProfile(
            compat_pb2.SetHostProfileRequest(
                tenant_id=t,
                backstage_version="1.31.0",
                node_version="20.11.1",
                packages={CORE: "1.10.0", "@acme/plugin-c": "1.4.0"},
            ),
            timeout=10,
        )
    reply = await stub.PredictUpgradeImpact(
        pb.PredictUpgradeImpactRequest(tenant_id=t, plugin="@acme/plugin-a", target_range="^2"),
        timeout=10,
    )
    assert [(b.name, b.version) for b in reply.broken] == [("@acme/plugin-c", "1.4.0")]
    other = await stub.PredictUpgradeImpact(
        pb.PredictUpgradeImpactRequest(
            tenant_id=tenant(), plugin="@acme/plugin-a", target_range="^2"
        ),
        timeout=10,
    )
    assert other.safe
