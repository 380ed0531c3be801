"""How the interceptor turns exceptions into gRPC status codes."""

from __future__ import annotations

import grpc
import pytest

from portico_common.errors import (
    AlreadyExistsError,
    EventError,
    FailedPreconditionError,
    IdempotencyConflictError,
    InvalidArgumentError,
    MigrationError,
    NotFoundError,
    PermissionDeniedError,
    PorticoError,
    UnauthenticatedError,
)
from portico_common.grpc.interceptor import _status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
        (NotFoundError, grpc.StatusCode.NOT_FOUND),
        (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
        (FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
        (UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),
        (PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
        (IdempotencyConflictError, grpc.StatusCode.ABORTED),
        (PorticoError, grpc.StatusCode.INTERNAL),
        (MigrationError, grpc.StatusCode.INTERNAL),
        (EventError, grpc.StatusCode.INTERNAL),
    ],
)
def test_kernel_errors_map_to_their_code(
    error: type[PorticoError], status: grpc.StatusCode
) -> None:
    """Each kernel error becomes the status its `code` names, with its message."""
    assert _status_of(error("tenant 'acme' not found")) == (status, "tenant 'acme' not found")


def test_service_error_with_a_code_attribute_maps_by_name() -> None:
    """A service's own error class needs only `code`, not a kernel base class."""

    class QuotaExceededError(Exception):
        code = "RESOURCE_EXHAUSTED"

    assert _status_of(QuotaExceededError("3 of 3 plugins installed")) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "3 of 3 plugins installed",
    )


def test_error_without_message_reports_its_class_name() -> None:
    """An error raised without a message still tells the caller what it was."""
    assert _status_of(NotFoundError()) == (grpc.StatusCode.NOT_FOUND, "NotFoundError")


def test_timeout_is_deadline_exceeded() -> None:
    """The interceptor's own deadline (asyncio.timeout) surfaces as DEADLINE_EXCEEDED."""
    assert _status_of(TimeoutError()) == (grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")


@pytest.mark.parametrize(
    "error",
    [RuntimeError("password=hunter2 in the DSN"), KeyError("secret"), ValueError("x")],
)
def test_unexpected_errors_are_internal_without_detail(error: Exception) -> None:
    """Anything without a code is INTERNAL and its message is not leaked to the caller."""
    assert _status_of(error) == (grpc.StatusCode.INTERNAL, "")


def test_unknown_code_name_is_internal() -> None:
    """A `code` that names no gRPC status is treated as a bug, not trusted."""

    class OddError(Exception):
        code = "TEAPOT"

    assert _status_of(OddError("short and stout")) == (grpc.StatusCode.INTERNAL, "")


def test_non_string_code_is_internal() -> None:
    """A `code` that is not a status name (a method, as on grpc errors) is INTERNAL."""

    class CallError(Exception):
        def code(self) -> int:
            return 5

    assert _status_of(CallError("downstream failed")) == (grpc.StatusCode.INTERNAL, "")
