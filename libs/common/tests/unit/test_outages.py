"""Which failures count as a dependency's outage, and what the caller is shown for them."""

from __future__ import annotations

import asyncpg
import grpc
import nats.errors
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from portico_common.errors import NotFoundError, UnavailableError
from portico_common.grpc.interceptor import _error_details, _status_of, caller_error
from portico_common.outages import (
    NATS,
    POSTGRESQL,
    UPSTREAM,
    DependencyUnavailableError,
    as_unavailable,
    unreachable_dependency,
)


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), POSTGRESQL),
        (asyncpg.CannotConnectNowError("the database system is starting up"), POSTGRESQL),
        (asyncpg.AdminShutdownError("terminating connection"), POSTGRESQL),
        (asyncpg.TooManyConnectionsError("too many clients"), POSTGRESQL),
        (asyncpg.InterfaceError("connection is closed"), POSTGRESQL),
        (nats.errors.ConnectionClosedError(), NATS),
        (nats.errors.NoServersError(), NATS),
        (nats.errors.NoRespondersError(), NATS),
    ],
)
def test_connection_failures_name_their_dependency(error: Exception, dependency: str) -> None:
    """Each driver's connection errors are recognised as that dependency's outage."""
    assert unreachable_dependency(error) == dependency


def test_refused_socket_is_blamed_on_the_code_that_opened_it() -> None:
    """A bare ConnectionRefusedError is PostgreSQL's when asyncpg raised it."""

    def connect() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)")

    # The frame's module name stands in for asyncpg's connect code.
    namespace = {"__name__": "asyncpg.connect_utils", "connect": connect}
    exec("def open_socket():\n    connect()\n", namespace)  # noqa: S102 - a frame of that module
    with pytest.raises(ConnectionRefusedError) as caught:
        namespace["open_socket"]()  # type: ignore[operator]
    assert unreachable_dependency(caught.value) == POSTGRESQL
    # Raised by our own code it says nothing about whose socket it was.
    assert unreachable_dependency(ConnectionRefusedError(111, "refused")) is None


def _save_rollout() -> None:
    try:
        raise asyncpg.ConnectionDoesNotExistError("closed in the middle")
    except asyncpg.PostgresError as exc:
        raise RuntimeError("saving the rollout failed") from exc


def _find_rollout() -> None:
    try:
        raise asyncpg.ConnectionDoesNotExistError("closed")
    except asyncpg.PostgresError:
        raise NotFoundError("no such rollout") from None


def test_wrapped_outage_is_found_under_the_error_that_wraps_it() -> None:
    """An uncategorised error raised from an outage still reports the outage."""
    with pytest.raises(RuntimeError) as wrapped:
        _save_rollout()
    assert unreachable_dependency(wrapped.value) == POSTGRESQL


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug"),
        ValueError("bad"),
        TimeoutError(),
        FileNotFoundError("/etc/x"),
        asyncpg.UniqueViolationError("dup"),
        nats.errors.BadSubjectError(),
    ],
)
def test_bugs_and_timeouts_are_not_outages(error: Exception) -> None:
    """Anything that is not a connection failure stays what it was."""
    assert unreachable_dependency(error) is None
    assert caller_error(error) is error


def test_upstream_service_unavailable_is_an_outage() -> None:
    """A call to another service that ends UNAVAILABLE blames an upstream service."""
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "connect failed"
    )
    assert unreachable_dependency(error) == UPSTREAM


def test_categorised_errors_keep_their_category() -> None:
    """A service's own NOT_FOUND raised while handling an outage is still NOT_FOUND."""
    with pytest.raises(NotFoundError) as caught:
        _find_rollout()
    assert caller_error(caught.value) is caught.value


def test_outage_becomes_unavailable_without_any_address() -> None:
    """The caller sees UNAVAILABLE naming PostgreSQL, never the driver's text or address."""
    raw = asyncpg.ConnectionDoesNotExistError("connection to 10.0.0.5:5432 was closed")
    shown = caller_error(raw)
    assert isinstance(shown, UnavailableError)
    code, message = _status_of(shown)
    assert code == grpc.StatusCode.UNAVAILABLE
    assert message == "PostgreSQL is unreachable; retry in 2s"
    assert "10.0.0.5" not in message


def test_outage_details_carry_retry_info_and_the_dependency() -> None:
    """The trailer has a RetryInfo (Retry-After at the gateway) and an ErrorInfo naming it."""
    error = as_unavailable(nats.errors.ConnectionClosedError())
    assert isinstance(error, DependencyUnavailableError)
    [(key, raw)] = _error_details(grpc.StatusCode.UNAVAILABLE, str(error), error)
    assert key == "grpc-status-details-bin"
    status = status_pb2.Status.FromString(raw)
    retry, info = error_details_pb2.RetryInfo(), error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(retry)
    assert status.details[1].Unpack(info)
    assert retry.retry_delay.seconds == 2
    assert (info.reason, dict(info.metadata)) == ("DEPENDENCY_UNAVAILABLE", {"dependency": NATS})
