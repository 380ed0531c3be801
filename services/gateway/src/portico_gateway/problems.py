"""Errors as RFC 9457 problem details (`application/problem+json`).

gRPC status codes map to HTTP statuses as google/rpc/code.proto documents them, so a
client sees the same class of error whether it speaks gRPC or HTTP.
"""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any, cast

import grpc
from google.protobuf import json_format

# googleapis-common-protos ships no type information.
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portico_gateway import redaction
from portico_gateway.errors import RequestError, UpstreamError

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:portico:problem:"

GRPC_TO_HTTP: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
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
}

# Their details describe the upstream's internals (often an exception's text), which
# is for the operator's log, not for an HTTP client.
_OPAQUE_CODES = frozenset(
    {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS}
)

# Retry-After of a 503 whose upstream gave no RetryInfo (the gateway could not reach it).
UNAVAILABLE_RETRY_AFTER_SECONDS = 2

# Keeps the error-detail types in the default pool, so `details` render as JSON.
_DETAIL_TYPES = error_details_pb2.DESCRIPTOR


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status for a gRPC status code; anything unlisted is a 500."""
    return GRPC_TO_HTTP.get(code, 500)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    *,
    instance: str,
    grpc_code: grpc.StatusCode,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": _TYPE_PREFIX + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "grpc_code": grpc_code.name,
    }
    # Extensions never overwrite the members RFC 9457 defines.
    body.update({k: v for k, v in (extensions or {}).items() if k not in body})
    return ProblemResponse(body, status_code=status, headers=headers)


def from_request_error(exc: RequestError, instance: str) -> ProblemResponse:
    return problem(
        exc.status,
        exc.kind,
        exc.title,
        exc.detail,
        instance=instance,
        grpc_code=exc.grpc_code,
        headers=exc.headers,
        extensions=exc.extensions,
    )


def from_rpc_error(exc: grpc.aio.AioRpcError, instance: str, service: str) -> ProblemResponse:
    """The problem for a failed upstream call, keeping its status code and details.

    Nothing in it maps the deployment: internal failures and grpc's own account of an
    unreachable upstream are replaced by a sentence naming the service (the original
    goes to the log), and addresses or paths in any other detail are masked.
    """
    code = exc.code()
    title = code.name.replace("_", " ").capitalize()
    text = exc.details() or ""
    if code in _OPAQUE_CODES or redaction.has_traceback(text):
        logger.warning("upstream %s failed with %s: %s", service, code.name, text)
        detail = f"the {service} service failed with {code.name}; its logs have the cause"
    elif code == grpc.StatusCode.UNAVAILABLE and redaction.from_transport(text):
        logger.warning("upstream %s is unreachable: %s", service, text)
        detail = f"the {service} service is unreachable; try again later"
    else:
        detail = redaction.mask(text) or title
    extensions: dict[str, Any] = {"service": service}
    details = _status_details(exc)
    if details and code not in _OPAQUE_CODES:
        extensions["details"] = redaction.mask_all(details)
    retry_after = _retry_after(details)
    if code == grpc.StatusCode.UNAVAILABLE:
        # What is down: the dependency the service named (its database, NATS), or
        # the service itself when the gateway could not reach it at all.
        extensions["dependency"] = _dependency(details) or service
        # Every 503 tells the client when to come back; the service's hint first.
        retry_after = retry_after or str(UNAVAILABLE_RETRY_AFTER_SECONDS)
    return problem(
        http_status(code),
        code.name.lower().replace("_", "-"),
        title,
        detail,
        instance=instance,
        grpc_code=code,
        headers={"Retry-After": retry_after} if retry_after else None,
        extensions=extensions,
    )


def _dependency(details: list[dict[str, Any]]) -> str:
    """The dependency an upstream's ErrorInfo (reason DEPENDENCY_UNAVAILABLE) names, or ""."""
    for detail in details:
        if detail.get("@type", "").endswith("/google.rpc.ErrorInfo"):
            metadata = detail.get("metadata")
            if detail.get("reason") == "DEPENDENCY_UNAVAILABLE" and isinstance(metadata, dict):
                return str(metadata.get("dependency", ""))
    return ""


def _retry_after(details: list[dict[str, Any]]) -> str:
    """Retry-After (seconds) from a google.rpc.RetryInfo detail ("12s"), or ""."""
    for detail in details:
        if detail.get("@type", "").endswith("/google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay", "")).removesuffix("s")
            try:
                return str(max(1, math.ceil(float(delay))))
            except ValueError:
                return ""
    return ""


def _status_details(exc: grpc.aio.AioRpcError) -> list[dict[str, Any]]:
    # Rich errors (google.rpc.Status with BadRequest, ErrorInfo, ...) travel in this
    # trailer; rendering them lets a client see which field was wrong.
    # grpc-stubs type this as the sync API's tuple; grpc.aio returns its Metadata.
    trailers = cast("grpc.aio.Metadata | None", exc.trailing_metadata())
    for value in trailers.get_all("grpc-status-details-bin") if trailers else ():
        if not isinstance(value, bytes):
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
            return [json_format.MessageToDict(detail) for detail in status.details]
        except Exception:  # noqa: BLE001 - undecodable details must not hide the status itself
            logger.warning("undecodable grpc-status-details-bin from upstream")
            return []
    return []


_HTTP_TO_GRPC = {404: grpc.StatusCode.NOT_FOUND, 405: grpc.StatusCode.UNIMPLEMENTED}


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (for the fixed routes) as problems too."""
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    phrase = HTTPStatus(exc.status_code).phrase
    return problem(
        exc.status_code,
        phrase.lower().replace(" ", "-"),
        phrase,
        exc.detail,
        instance=request.url.path,
        grpc_code=_HTTP_TO_GRPC.get(exc.status_code, grpc.StatusCode.UNKNOWN),
        headers=dict(exc.headers or {}),
    )


async def handle_request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)  # noqa: S101 - registered for RequestError only
    return from_request_error(exc, request.url.path)


async def handle_upstream_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UpstreamError)  # noqa: S101 - registered for UpstreamError only
    return from_rpc_error(exc.error, request.url.path, exc.service)


async def handle_unexpected(request: Request, _: Exception) -> Response:
    """A bug in the gateway: a 500 problem, with the traceback left to the server's log."""
    return problem(
        500,
        "internal-error",
        "Internal error",
        "the gateway failed unexpectedly; its log has the cause",
        instance=request.url.path,
        grpc_code=grpc.StatusCode.INTERNAL,
    )
