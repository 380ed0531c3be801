"""How the interceptor turns exceptions into gRPC status codes."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from portico.auth.v1 import auth_pb2
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
from portico_common.grpc.idempotency import IdempotentRequestAppliedError
from portico_common.grpc.interceptor import _error_details, _status_of, _storable


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


class _SlowDownError(Exception):
    code = "RESOURCE_EXHAUSTED"

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__("slow down")
        self.retry_after_seconds = retry_after_seconds


def test_an_error_with_a_retry_time_carries_a_retry_info() -> None:
    """`retry_after_seconds` travels as a google.rpc.Status trailer with a RetryInfo."""
    [(key, value)] = _error_details(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", _SlowDownError(2.2)
    )
    status = status_pb2.Status.FromString(value)
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    assert (key, status.code, status.message, info.retry_delay.seconds) == (
        "grpc-status-details-bin",
        grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
        "slow down",
        3,
    )
    assert _error_details(grpc.StatusCode.NOT_FOUND, "gone", NotFoundError("gone")) == ()
    assert _error_details(grpc.StatusCode.RESOURCE_EXHAUSTED, "x", _SlowDownError(0)) == ()


def test_a_request_that_took_effect_without_an_answer_says_so_in_an_error_info() -> None:
    """A retry that finds its key applied learns why from a reason, not from prose."""
    error = IdempotentRequestAppliedError("took effect, but the server stopped")
    [(_, value)] = _error_details(grpc.StatusCode.ALREADY_EXISTS, str(error), error)
    [detail] = status_pb2.Status.FromString(value).details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    assert (info.reason, info.domain) == ("IDEMPOTENT_REQUEST_APPLIED", "portico.dev")


def test_a_stored_response_loses_its_redacted_fields_only() -> None:
    """Fields marked debug_redact (a secret shown once) are cleared; the rest is kept."""
    response = auth_pb2.RotateClientSecretResponse(client_id="bot", client_secret="s3cret")
    stored = _storable(response)
    assert (stored.client_id, stored.client_secret) == ("bot", "")
    assert response.client_secret == "s3cret"
    plain = auth_pb2.GetClientResponse(client=auth_pb2.Client(client_id="bot"))
    assert _storable(plain) is plain
