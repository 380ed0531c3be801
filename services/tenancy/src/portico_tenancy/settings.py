"""Settings of the tenancy service (env prefix PORTICO_)."""

from __future__ import annotations

from portico_common.settings import ServiceSettings


class TenancySettings(ServiceSettings):
    grpc_port: int = 50061
