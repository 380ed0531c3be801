"""What `build` wires: the servicers, the durable consumers and the jobs, over fakes."""

from __future__ import annotations

from typing import Any

import pytest

from portico.rollout.v1 import rollout_pb2 as pb
from portico_rollout.entrypoints.grpc_api import RolloutServicer
from portico_rollout.entrypoints.grpc_assignments import AssignmentServicer
from portico_rollout.errors import AssignmentsNotReadyError
from portico_rollout.testing.world import PLUGIN, RolloutWorld

# The servicer never touches its context; the interceptor owns metadata and errors.
NO_CONTEXT: Any = None


def test_build_lists_the_consumers_and_the_scheduler(world: RolloutWorld) -> None:
    """Four durable consumers, split so a rollback never queues behind verdicts, and the jobs.

    The jobs: the scheduler, the view's closer of watches, and the sync that
    keeps the view in step; health waits for the view's first build. The
    tenant deletion consumer is not build's: `serve` adds it when tenancy's
    address is set.
    """
    components = world.components()
    assert {s.durable: sorted(s.handlers) for s in components.subscriptions} == {
        "rollout-checks": [
            "plugin.artifact.rejected",
            "plugin.artifact.verified",
            "plugin.compat.checked",
        ],
        "rollout-slo": ["slo.breaker.opened", "slo.violated"],
        "rollout-installs": ["plugin.install.approved"],
        "rollout-tenant-states": [
            "tenant.deletion_cancelled",
            "tenant.deletion_scheduled",
            "tenant.resumed",
            "tenant.suspended",
        ],
    }
    assert components.sync is not None
    assert len(components.background) == 4
    # The scheduler, the view, the saga runner (a closure, like the scheduler), the sync.
    assert components.background[1] == components.view.run
    assert components.background[2].__name__ == "run_sagas"
    assert components.background[3] == components.sync.run
    assert components.readiness == [components.sync.built.wait]


async def test_built_servicer_requests_gets_and_resolves(world: RolloutWorld) -> None:
    """The servicer from build stores a request with the default bake and answers for it."""
    components = world.components(default_bake_seconds=120)
    servicer, watch = components.servicers
    assert servicer.name == "portico.rollout.v1.RolloutService"
    assert watch.name == "portico.rollout.v1.AssignmentService"
    assert isinstance(watch.implementation, AssignmentServicer)
    api = servicer.implementation
    assert isinstance(api, RolloutServicer)
    assert components.sync is not None
    await components.sync.step()

    created = await api.RequestRollout(
        pb.RequestRolloutRequest(tenant_id="acme", plugin=PLUGIN, version="2.3.0"), NO_CONTEXT
    )
    got = await api.GetRollout(
        pb.GetRolloutRequest(tenant_id="acme", rollout_id=created.rollout.rollout_id), NO_CONTEXT
    )
    # What the feed does when rollout.requested arrives: the view reads the plugin back.
    components.sync.changed("acme", PLUGIN)
    assert await components.sync.step() == 1
    resolved = await api.ResolveVersion(
        pb.ResolveVersionRequest(tenant_id="acme", user_id="user-1", plugin=PLUGIN), NO_CONTEXT
    )

    assert created.rollout.bake_seconds == 120
    assert created.rollout.state == pb.ROLLOUT_STATE_AWAITING_CHECKS
    assert got.rollout == created.rollout
    assert (resolved.rollout_id, resolved.in_canary, resolved.percent, resolved.version) == (
        created.rollout.rollout_id,
        False,
        0,
        "",
    )


async def test_resolve_is_unavailable_until_the_view_is_built(world: RolloutWorld) -> None:
    """Before the first build ResolveVersion refuses with UNAVAILABLE instead of guessing."""
    [servicer, _] = world.components().servicers
    api = servicer.implementation
    assert isinstance(api, RolloutServicer)
    with pytest.raises(AssignmentsNotReadyError) as caught:
        await api.ResolveVersion(
            pb.ResolveVersionRequest(tenant_id="acme", user_id="user-1", plugin=PLUGIN), NO_CONTEXT
        )
    assert caught.value.code == "UNAVAILABLE"
