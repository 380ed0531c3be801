"""Background jobs of auth, run by the kernel's `serve` beside the gRPC server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from portico_auth.app import handlers
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.lockout import LockoutPolicy
from portico_auth.domain.signing_keys import KeyPolicy
from portico_common.runtime import Background

log = logging.getLogger(__name__)


def _every(seconds: float, what: str, work: Callable[[], Awaitable[object]]) -> Background:
    async def loop(stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), seconds)
                return
            except TimeoutError:
                pass
            try:
                result = await work()
            except Exception:
                # A job that dies stops the whole service; one missed round does not matter.
                log.exception("%s failed; retrying next round", what)
            else:
                log.debug("%s done", what, extra={"result": str(result)})

    return loop


def key_rotation(uow: UnitOfWorkFactory, policy: KeyPolicy, every_seconds: float) -> Background:
    """Checks every `every_seconds` whether a successor signing key is due, until stopped."""

    async def rotate() -> object:
        return (await handlers.ensure_signing_key(uow, policy)).kid

    job = _every(every_seconds, "signing key rotation", rotate)
    job.__name__ = "rotate_signing_keys"
    return job


def lockout_pruning(uow: UnitOfWorkFactory, policy: LockoutPolicy) -> Background:
    """Deletes lockout records that no longer matter, once per lockout window."""

    async def prune() -> object:
        return await handlers.prune_lockouts(uow, policy)

    job = _every(policy.window.total_seconds(), "lockout pruning", prune)
    job.__name__ = "prune_lockouts"
    return job
