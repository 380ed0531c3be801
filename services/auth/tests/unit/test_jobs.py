"""The key-rotation background job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.app import handlers
from portico_auth.domain.signing_keys import KeyPolicy
from portico_auth.entrypoints.jobs import key_rotation
from portico_common.clock import ManualClock

POLICY = KeyPolicy()


async def _until(condition: Callable[[], object]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    pytest.fail("the job did not get there within 5 s")


async def test_the_job_creates_a_successor_when_one_is_due(
    store: AuthMemoryStore, clock: ManualClock
) -> None:
    """Once the active key is due for rotation, the next round adds a successor."""
    old = await handlers.ensure_signing_key(store.open, POLICY)
    clock.set(old.not_after - POLICY.rotate_before)
    stop = asyncio.Event()
    job = asyncio.create_task(key_rotation(store.open, POLICY, every_seconds=0.01)(stop))
    await _until(lambda: len(store.state.keys) == 2)
    stop.set()
    await asyncio.wait_for(job, 1)


async def test_the_job_survives_a_failing_round(
    store: AuthMemoryStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round that fails is logged and the job keeps running until stopped."""
    calls = 0

    async def flaky(*_: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return await original(store.open, POLICY)

    original = handlers.ensure_signing_key
    monkeypatch.setattr(handlers, "ensure_signing_key", flaky)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR):
        job = asyncio.create_task(key_rotation(store.open, POLICY, every_seconds=0.01)(stop))
        await _until(lambda: calls >= 2 and store.state.keys)
    assert "rotation failed" in caplog.text
    assert not job.done()
    stop.set()
    await asyncio.wait_for(job, 1)


async def test_the_job_stops_promptly_between_rounds(store: AuthMemoryStore) -> None:
    """Setting the stop event ends the job without waiting out the interval."""
    stop = asyncio.Event()
    job = asyncio.create_task(key_rotation(store.open, POLICY, every_seconds=3600)(stop))
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(job, 1)
    assert store.state.keys == {}
