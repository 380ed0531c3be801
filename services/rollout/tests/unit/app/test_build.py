"""What `build` wires: the servicer, the durable consumers and the scheduler, over fakes."""

from __future__ import annotations

from typing import Any

from portico.rollout.v1 import rollout_pb2 as pb
from portico_rollout.entrypoints.grpc_api import RolloutServicer
from portico_rollout.testing.world import PLUGIN, RolloutWorld

# The servicer never touches its context; the interceptor owns metadata and errors.
NO_CONTEXT: Any = None


def test_build_lists_the_consumers_and_the_scheduler(world: RolloutWorld) -> None:
    """Four durable consumers, split so a rollback never queues behind verdicts, and one job.

    The tenant deletion consumer is not build's: `serve` adds it when tenancy's
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
    assert len(components.background) == 1


async def test_built_servicer_requests_gets_and_resolves(world: RolloutWorld) -> None:
    """The servicer from build stores a request with the default bake and answers for it."""
    [servicer] = world.components(default_bake_seconds=120).servicers
    assert servicer.name == "portico.rollout.v1.RolloutService"
    api = servicer.implementation
    assert isinstance(api, RolloutServicer)

    created = await api.RequestRollout(
        pb.RequestRolloutRequest(tenant_id="acme", plugin=PLUGIN, version="2.3.0"), NO_CONTEXT
    )
    got = await api.GetRollout(
        pb.GetRolloutRequest(tenant_id="acme", rollout_id=created.rollout.rollout_id), NO_CONTEXT
    )
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
