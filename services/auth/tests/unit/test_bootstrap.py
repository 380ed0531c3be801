"""What `build` wires for auth: the servicer, its verifier and its jobs, on given fakes."""

from __future__ import annotations

import asyncio

from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies
from portico_auth.bootstrap import Dependencies, build
from portico_auth.entrypoints.grpc_api import AuthServicer
from portico_common.clock import ManualClock


def test_build_serves_the_auth_service_and_subscribes_to_nothing(store: AuthMemoryStore) -> None:
    """One servicer under portico.auth.v1.AuthService, two jobs; auth consumes no events."""
    parts = build(Dependencies(uow=store.open))
    assert [s.name for s in parts.servicers] == ["portico.auth.v1.AuthService"]
    assert isinstance(parts.servicers[0].implementation, AuthServicer)
    assert parts.subscriptions == []
    assert [job.__name__ for job in parts.background] == ["rotate_signing_keys", "prune_lockouts"]


async def test_the_background_job_rotates_keys_on_the_given_store(
    store: AuthMemoryStore, clock: ManualClock
) -> None:
    """The job `build` lists checks for a due successor key every `rotation_check_seconds`."""
    policies = Policies()
    old = await handlers.ensure_signing_key(store.open, policies.keys)
    clock.set(old.not_after - policies.keys.rotate_before)
    job, _ = build(Dependencies(uow=store.open, rotation_check_seconds=0.01)).background
    stop = asyncio.Event()
    running = asyncio.create_task(job(stop))
    for _ in range(500):
        if len(store.state.keys) == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 1)
    assert len(store.state.keys) == 2
