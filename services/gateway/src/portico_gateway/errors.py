"""Errors of the gateway: start-up faults in the route table, and request faults.

A `RequestError` is the only exception the request path raises on purpose; the app turns
it into an RFC 9457 problem response, so a client never sees a traceback.
"""

from __future__ import annotations

from typing import Any

import grpc


class GatewayError(Exception):
    """Base of every error raised by the gateway."""


class TemplateSyntaxError(GatewayError):
    """A `google.api.http` annotation the gateway cannot serve; raised at start-up."""

    def __init__(self, template: str, reason: str) -> None:
        super().__init__(f"path template {template!r}: {reason}")


class RouteConflictError(GatewayError):
    """Two RPCs bind the same verb and path; which one serves it would be arbitrary."""

    def __init__(self, method: str, template: str, other_rpc: str) -> None:
        super().__init__(f"{method} {template} is already bound to {other_rpc}")


class UpstreamError(GatewayError):
    """An upstream RPC failed; carries its status so the problem can keep it."""

    def __init__(self, service: str, error: grpc.aio.AioRpcError) -> None:
        super().__init__(f"{service}: {error.code().name}: {error.details()}")
        self.service = service
        self.error = error


class RequestError(GatewayError):
    """A request the gateway refuses, described as a problem (RFC 9457)."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        grpc_code: grpc.StatusCode,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.grpc_code = grpc_code
        self.headers = headers or {}
        self.extensions = extensions or {}


def bad_request(detail: str, *, kind: str = "invalid-request") -> RequestError:
    """400 for input the gateway itself rejects; gRPC would say INVALID_ARGUMENT."""
    return RequestError(
        400, kind, "Invalid request", detail, grpc_code=grpc.StatusCode.INVALID_ARGUMENT
    )
