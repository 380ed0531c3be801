"""Background jobs of auth, run by the kernel's `serve` beside the gRPC server."""

from __future__ import annotations

import asyncio
import logging

from portico_auth.app import handlers
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.signing_keys import KeyPolicy
from portico_common.runtime import Background

log = logging.getLogger(__name__)


def key_rotation(uow: UnitOfWorkFactory, policy: KeyPolicy, every_seconds: float) -> Background:
    """Checks every `every_seconds` whether a successor signing key is due, until stopped."""

    async def rotate_signing_keys(stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), every_seconds)
                return
            except TimeoutError:
                pass
            try:
                key = await handlers.ensure_signing_key(uow, policy)
            except Exception:
                # A job that dies stops the whole service; one missed round does not matter.
                log.exception("signing key rotation failed; retrying next round")
            else:
                log.debug("signing key checked", extra={"kid": key.kid})

    return rotate_signing_keys
