"""The saga runner's backoff on the real service: kept in PostgreSQL across a restart.

The service runs in-process on a ManualClock that only the test moves, with
an in-memory dependency graph standing in for compat. While the clock stands
still the runner keeps ticking (every 20 ms of real time), so a step it
failed on is not asked about again only because of the backoff stored on
its row; another tenant's saga finishing in the meantime shows the runner
was passing all along.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import asyncpg
import pytest

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico_common.clock import ManualClock
from portico_rollout.adapters.compat_memory import MemoryDependencyGraph
from portico_rollout.testing.driver import T0, RolloutDriver

pytestmark = pytest.mark.integration

A, B = "@acme/plugin-a", "@acme/plugin-b"
StartRollout = Callable[..., AbstractAsyncContextManager[RolloutDriver]]
NewTenant = Callable[[], str]


async def rolled_back(svc: RolloutDriver, tenant: str, plugin: str) -> str:
    """A canary of `plugin` 2.0.0 that an SLO violation rolled back; its saga goes on."""
    svc.slo.steady(tenant, plugin, "2.0.0")
    rollout = await svc.request(tenant, plugin, "2.0.0", bake_seconds=600, phases=[50, 100])
    await svc.send(
        ev.ArtifactVerified(tenant_id=tenant, plugin=plugin, version="2.0.0"), tenant=tenant
    )
    await svc.send(
        ev.CompatChecked(tenant_id=tenant, plugin=plugin, version="2.0.0", compatible=True),
        tenant=tenant,
    )

    async def state_is(state: int) -> bool:
        return (await svc.get(tenant, rollout.rollout_id)).state == state

    await svc.eventually(lambda: state_is(pb.ROLLOUT_STATE_IN_PROGRESS))
    await svc.send(
        ev.SloViolated(
            tenant_id=tenant, slo_id="slo-x", plugin=plugin, version="2.0.0", rule="fast burn"
        ),
        tenant=tenant,
    )
    await svc.eventually(lambda: state_is(pb.ROLLOUT_STATE_ROLLED_BACK))
    return rollout.rollout_id


async def find_step(svc: RolloutDriver, rollout_id: str) -> asyncpg.Record:
    [row] = await svc.rows(
        """SELECT state, failed_attempts, next_attempt_at, last_error FROM rollback_steps
            WHERE rollout_id = $1 AND step = 'find_dependents'""",
        rollout_id,
    )
    return row


async def found(svc: RolloutDriver, rollout_id: str) -> None:
    """Until the saga's find_dependents step is done."""

    async def done() -> bool:
        return bool((await find_step(svc, rollout_id))["state"] == "done")

    await svc.eventually(done)


def asked_for(graph: MemoryDependencyGraph, tenants: Sequence[str]) -> int:
    return sum(1 for tenant, _, _ in graph.asked if tenant in tenants)


async def test_a_failed_step_waits_out_its_backoff_across_a_restart(
    start_rollout: StartRollout, new_tenant: NewTenant
) -> None:
    """compat is down for one tenant: its step fails once, is stored with its next attempt,
    and is not tried again before it, neither by this process nor by the next one, while
    another tenant's sagas go through; at its next attempt it is done."""
    clock = ManualClock(T0)
    stuck, other = new_tenant(), new_tenant()
    graph = MemoryDependencyGraph()
    graph.down.add(stuck)
    async with start_rollout(clock=clock, graph=graph) as svc:
        stuck_id = await rolled_back(svc, stuck, A)

        async def failed_once() -> bool:
            return bool((await find_step(svc, stuck_id))["failed_attempts"] >= 1)

        await svc.eventually(failed_once)
        failed = await find_step(svc, stuck_id)
        # After the first failure: between half and all of the first wait (1 s by default).
        assert T0 + timedelta(seconds=0.5) <= failed["next_attempt_at"] <= T0 + timedelta(seconds=1)
        assert failed["last_error"].startswith("DependencyGraphUnavailableError")
        await found(svc, await rolled_back(svc, other, A))
        assert asked_for(graph, [stuck]) == 1
        assert await find_step(svc, stuck_id) == failed

    # A new process, with compat answering: only the stored backoff keeps it from asking.
    graph = MemoryDependencyGraph()
    async with start_rollout(clock=clock, graph=graph) as svc:
        await found(svc, await rolled_back(svc, other, B))
        assert asked_for(graph, [stuck]) == 0
        assert await find_step(svc, stuck_id) == failed
        clock.set(failed["next_attempt_at"])
        await found(svc, stuck_id)
        assert asked_for(graph, [stuck]) == 1
        done = await find_step(svc, stuck_id)
        assert (done["failed_attempts"], done["last_error"]) == (1, failed["last_error"])
