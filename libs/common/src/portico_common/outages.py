"""Dependency outages: which failures mean PostgreSQL, NATS or another service is unreachable.

The one place that decides it. The interceptor turns such a failure into
UNAVAILABLE with a RetryInfo and the dependency's name (never its address),
consumers retry the message instead of parking it, and the health probe uses
the same names. Anything else stays what it was (INTERNAL for an unexpected
error): a bug must not pass for an outage.
"""

from __future__ import annotations

from types import TracebackType

import asyncpg
import grpc
import nats.errors

from portico_common.errors import UnavailableError

POSTGRESQL = "postgresql"
NATS = "nats"
UPSTREAM = "upstream-service"
# How long a caller is told to wait before retrying: a restart of PostgreSQL or
# NATS under a supervisor takes a second or two.
RETRY_AFTER_SECONDS = 2

_NAMES = {POSTGRESQL: "PostgreSQL", NATS: "NATS", UPSTREAM: "a service this one calls"}

# Server-side states of PostgreSQL that end or refuse connections: shutting down,
# starting up, crashed, or out of connection slots.
_PG_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)
_NATS_OUTAGES: tuple[type[BaseException], ...] = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
)
# How far down __cause__/__context__ a wrapped outage is still found.
_CHAIN_DEPTH = 6


class DependencyUnavailableError(UnavailableError):
    """A dependency of the service is unreachable now; the same request may succeed later."""

    def __init__(self, dependency: str, retry_after_seconds: int = RETRY_AFTER_SECONDS) -> None:
        name = _NAMES.get(dependency, dependency)
        super().__init__(f"{name} is unreachable; retry in {retry_after_seconds}s")
        self.dependency = dependency
        self.retry_after_seconds = retry_after_seconds


def unreachable_dependency(exc: BaseException) -> str | None:
    """The dependency whose outage `exc` (or an error it wraps) reports; None if it is not one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if current is None or id(current) in seen:
            return None
        seen.add(id(current))
        found = _dependency_of(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def as_unavailable(exc: BaseException) -> DependencyUnavailableError | None:
    """`exc` as the error a caller is shown, if it reports a dependency's outage."""
    if isinstance(exc, DependencyUnavailableError):
        return exc
    dependency = unreachable_dependency(exc)
    return DependencyUnavailableError(dependency) if dependency is not None else None


def _dependency_of(exc: BaseException) -> str | None:
    found: str | None = None
    if isinstance(exc, DependencyUnavailableError):
        found = exc.dependency
    elif isinstance(exc, _PG_OUTAGES) or (
        # "connection is closed": the server went away under a pooled connection.
        isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
    ):
        found = POSTGRESQL
    elif isinstance(exc, _NATS_OUTAGES):
        found = NATS
    elif isinstance(exc, grpc.aio.AioRpcError):
        found = UPSTREAM if exc.code() == grpc.StatusCode.UNAVAILABLE else None
    elif isinstance(exc, OSError) and not isinstance(exc, TimeoutError | FileNotFoundError):
        # A refused or reset socket says nothing of whose it was: the code that
        # raised it does (asyncpg connecting a pool, nats-py reconnecting). A
        # timeout stays a timeout: the caller's deadline, not an outage.
        found = _raised_by(exc.__traceback__)
    return found


def _raised_by(tb: TracebackType | None) -> str | None:
    found: str | None = None
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith("asyncpg"):
            found = POSTGRESQL
        elif module.startswith("nats"):
            found = NATS
        tb = tb.tb_next
    return found
