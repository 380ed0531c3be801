"""Health probes: gRPC health Check for services, GET /healthz for the gateway."""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from portico_common.tls import GrpcClientTls

PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Health:
    ok: bool
    status: str
    latency_ms: float

    def __str__(self) -> str:
        return self.status


def grpc_health(
    target: str, timeout: float = PROBE_TIMEOUT_SECONDS, tls: GrpcClientTls | None = None
) -> Health:
    """The overall ("") status of a gRPC server's health service (over TLS with `tls`)."""
    started = time.monotonic()
    try:
        with _channel(target, tls) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.RpcError as exc:
        # The raised error is also a grpc.Call, which is where its status code lives.
        code = getattr(exc, "code", None)
        status = code() if callable(code) else None
        name = status.name if isinstance(status, grpc.StatusCode) else "ERROR"
        return Health(False, _unreachable(name), _ms(started))
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return Health(status == "SERVING", str(status), _ms(started))


def _channel(target: str, tls: GrpcClientTls | None) -> grpc.Channel:
    if tls is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, tls.credentials())


def http_health(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> Health:
    """GET `url`; healthy on 200."""
    started = time.monotonic()
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return Health(False, _unreachable(type(exc).__name__), _ms(started))
    if response.status_code == 200:
        return Health(True, "OK", _ms(started))
    return Health(False, f"HTTP {response.status_code}", _ms(started))


def _unreachable(reason: str) -> str:
    return "UNREACHABLE" if reason in {"UNAVAILABLE", "ConnectError"} else reason


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
