"""Settings of the slo service (env prefix PORTICO_)."""

from __future__ import annotations

from portico_common.settings import ServiceSettings


class SloSettings(ServiceSettings):
    grpc_port: int = 50066
    # How often the burn-rate gauges are recomputed for every SLO, so a version
    # that stopped getting traffic (say, after its rollback) decays to 0.
    slo_gauge_refresh_seconds: float = 60.0
    # How often buckets older than their SLO's long window are deleted.
    slo_prune_seconds: float = 3600.0
