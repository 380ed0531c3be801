"""Problem details: status mapping, and what an upstream error may reveal."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from portico_gateway.problems import PROBLEM_MEDIA_TYPE, from_rpc_error, http_status, problem

CANONICAL = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.DATA_LOSS: 500,
}


def rpc_error(
    code: grpc.StatusCode, details: str, trailers: tuple[tuple[str, str | bytes], ...] = ()
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailers), details, None
    )


def body_of(response: object) -> dict[str, object]:
    raw = getattr(response, "body")  # noqa: B009 - JSONResponse.body is bytes at run time
    decoded: dict[str, object] = json.loads(raw)
    return decoded


@pytest.mark.parametrize(("code", "status"), CANONICAL.items(), ids=str)
def test_grpc_codes_map_to_the_canonical_http_status(code: grpc.StatusCode, status: int) -> None:
    """Each gRPC code becomes the HTTP status google/rpc/code.proto gives it."""
    assert http_status(code) == status


def test_an_upstream_error_keeps_its_code_and_detail() -> None:
    """A client-facing status carries the servicer's message and the gRPC code name."""
    response = from_rpc_error(
        rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "checks pending"), "/v1/x", "rollout"
    )

    assert response.status_code == 400
    assert response.media_type == PROBLEM_MEDIA_TYPE
    assert body_of(response) == {
        "type": "urn:portico:problem:failed-precondition",
        "title": "Failed precondition",
        "status": 400,
        "detail": "checks pending",
        "instance": "/v1/x",
        "grpc_code": "FAILED_PRECONDITION",
        "service": "rollout",
    }


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS]
)
def test_internal_failures_do_not_leak_upstream_details(code: grpc.StatusCode) -> None:
    """An upstream's exception text stays in the log, not in the HTTP response."""
    secret = "Unexpected <class 'KeyError'>: 'postgres://admin:hunter2@db'"

    response = from_rpc_error(rpc_error(code, secret), "/v1/x", "tenancy")

    assert response.status_code == 500
    assert "hunter2" not in response.body.decode()


def test_rich_error_details_are_rendered() -> None:
    """google.rpc details (here a BadRequest) reach the client as typed JSON."""
    violation = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="version", description="not semver")
        ]
    )
    detail = any_pb2.Any()
    detail.Pack(violation)
    status = status_pb2.Status(code=3, message="bad version", details=[detail])
    trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    response = from_rpc_error(
        rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "bad version", trailers), "/v1/x", "compat"
    )

    assert body_of(response)["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "version", "description": "not semver"}],
        }
    ]


def test_undecodable_error_details_still_yield_the_status() -> None:
    """Garbage in the details trailer does not turn a 400 into a crash."""
    trailers = (("grpc-status-details-bin", b"\xff\xff\xff"),)

    response = from_rpc_error(
        rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "bad", trailers), "/v1/x", "compat"
    )

    assert response.status_code == 400
    assert "details" not in body_of(response)


def test_extensions_cannot_overwrite_standard_members() -> None:
    """An extension named like an RFC 9457 member is dropped, not allowed to replace it."""
    response = problem(
        400,
        "invalid-request",
        "Invalid request",
        "detail",
        instance="/v1/x",
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        extensions={"status": 200, "hint": "see docs"},
    )

    body = body_of(response)
    assert body["status"] == 400
    assert body["hint"] == "see docs"


def test_a_retry_hint_becomes_retry_after() -> None:
    """RESOURCE_EXHAUSTED with a google.rpc.RetryInfo answers 429 with Retry-After seconds."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=12)))
    status = status_pb2.Status(code=8, message="slow down; retry after 12 s", details=[detail])
    error = rpc_error(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "slow down; retry after 12 s",
        (("grpc-status-details-bin", status.SerializeToString()),),
    )

    response = from_rpc_error(error, "/v1/auth/token", "auth")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "12"
    assert body_of(response)["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}
    ]


def _outage_trailer(dependency: str) -> tuple[tuple[str, bytes], ...]:
    """The trailer a service's kernel sends when one of its dependencies is unreachable."""
    retry, info = any_pb2.Any(), any_pb2.Any()
    retry.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2)))
    info.Pack(
        error_details_pb2.ErrorInfo(
            reason="DEPENDENCY_UNAVAILABLE",
            domain="portico.dev",
            metadata={"dependency": dependency},
        )
    )
    status = status_pb2.Status(
        code=14, message="PostgreSQL is unreachable; retry in 2s", details=[retry, info]
    )
    return (("grpc-status-details-bin", status.SerializeToString()),)


def test_a_dependency_outage_answers_503_with_retry_after_naming_it() -> None:
    """A service whose database is down answers 503, Retry-After, and names PostgreSQL."""
    error = rpc_error(
        grpc.StatusCode.UNAVAILABLE,
        "PostgreSQL is unreachable; retry in 2s",
        _outage_trailer("postgresql"),
    )

    response = from_rpc_error(error, "/v1/tenants/acme/plugins:resolve", "rollout")

    body = body_of(response)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.media_type == PROBLEM_MEDIA_TYPE
    assert body["detail"] == "PostgreSQL is unreachable; retry in 2s"
    assert body["dependency"] == "postgresql"
    assert body["service"] == "rollout"
    assert body["grpc_code"] == "UNAVAILABLE"


def test_an_unreachable_upstream_answers_503_with_retry_after_and_no_address() -> None:
    """grpc's own account of a refused connection becomes a sentence naming the service."""
    error = rpc_error(
        grpc.StatusCode.UNAVAILABLE,
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.1.2.3:50065:"
        " Failed to connect to remote host: Connection refused",
    )

    response = from_rpc_error(error, "/v1/tenants/acme/plugins:resolve", "rollout")

    body = body_of(response)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert body["dependency"] == "rollout"
    assert "10.1.2.3" not in json.dumps(body)
    assert body["detail"] == "the rollout service is unreachable; try again later"
