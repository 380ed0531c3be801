"""Settings of the compat service (env prefix PORTICO_)."""

from __future__ import annotations

from portico_common.settings import ServiceSettings


class CompatSettings(ServiceSettings):
    grpc_port: int = 50064
