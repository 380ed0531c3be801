"""Configuration of the gateway, read from `PORTICO_GATEWAY_*` environment variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from portico_gateway.app import DEFAULT_DEADLINE_SECONDS, DEFAULT_MAX_BODY_BYTES
from portico_gateway.nesting import DEFAULT_MAX_JSON_DEPTH


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTICO_GATEWAY_")

    host: str = "127.0.0.1"
    # 0: the operating system picks a free port; read it back from `ready_file`.
    port: int = Field(default=8080, ge=0, le=65535)
    # Where to write {"port": ..., "pid": ...} once listening (JSON); empty writes nothing.
    ready_file: str = ""
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=0)
    # JSON bodies nesting arrays/objects deeper than this are refused with a 400.
    max_json_depth: int = Field(default=DEFAULT_MAX_JSON_DEPTH, ge=1)
    deadline_seconds: float = Field(default=DEFAULT_DEADLINE_SECONDS, gt=0)
    # Per-tenant token bucket: requests a second, and how many may come at once
    # after a quiet spell. 0 turns the limit off.
    tenant_rate_per_second: float = Field(default=50.0, ge=0)
    tenant_rate_burst: int = Field(default=100, ge=1)
    # HTTPS: the certificate (chain) and key the gateway serves with. Empty: plain
    # HTTP, meant for loopback (`portico up`) or behind a TLS-terminating proxy.
    # The upstream gRPC channels take the kernel's PORTICO_GRPC_TLS_CA_FILE and
    # PORTICO_GRPC_TLS_CLIENT_CERT_FILE / _KEY_FILE (GrpcClientTlsSettings).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # gRPC targets ("127.0.0.1:50051"); empty means the service is not reachable here.
    tenancy_target: str = ""
    auth_target: str = ""
    security_target: str = ""
    compat_target: str = ""
    rollout_target: str = ""
    slo_target: str = ""

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError(
                "PORTICO_GATEWAY_TLS_CERT_FILE and PORTICO_GATEWAY_TLS_KEY_FILE go together"
            )
        return self

    def upstreams(self) -> dict[str, str]:
        """Service short name → target, for every configured upstream."""
        targets = {
            "tenancy": self.tenancy_target,
            "auth": self.auth_target,
            "security": self.security_target,
            "compat": self.compat_target,
            "rollout": self.rollout_target,
            "slo": self.slo_target,
        }
        return {name: target for name, target in targets.items() if target}
