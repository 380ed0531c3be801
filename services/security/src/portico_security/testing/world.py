"""The whole service over in-memory adapters, wired by the real `build`.

    world = MemoryWorld(ManualClock(T0))
    parts = build(world.dependencies(max_artifact_bytes=1 << 20))
    servicer = parts.implementation("InstallService")
    async with loopback(parts) as channel:  # every servicer, behind the kernel's interceptor
        ...

Each context has its own store (`verification`, `trust`, `install`), so a
test reads the rows and the committed events of the context it exercises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from portico_common.clock import Clock
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_security.bootstrap import SERVICE, Components, Dependencies
from portico_security.install.adapters.memory import InstallMemoryStore
from portico_security.trust.adapters.memory import TrustMemoryStore
from portico_security.verification.adapters.memory import VerificationMemoryStore


class MemoryWorld:
    """One in-memory store per context, on one clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.verification = VerificationMemoryStore(clock)
        self.trust = TrustMemoryStore(clock)
        self.install = InstallMemoryStore(clock)

    def dependencies(self, *, max_artifact_bytes: int = 1 << 20, **extra: Any) -> Dependencies:
        """`Dependencies` over these stores; `extra` sets the other fields (signals, ...)."""
        return Dependencies(
            verification_uow=self.verification.uow_factory(),
            trust_uow=self.trust.uow_factory(),
            install_uow=self.install.uow_factory(),
            clock=self.clock,
            max_artifact_bytes=max_artifact_bytes,
            **extra,
        )


@asynccontextmanager
async def loopback(parts: Components) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to every servicer of `parts`, served on 127.0.0.1 behind the kernel's
    interceptor (no token verification), as `serve` would register them."""
    server = grpc.aio.server(interceptors=[PorticoServerInterceptor(SERVICE, verifier=None)])
    register_servicers(server, parts.servicers)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(None)
