"""Settings of the slo service (env prefix PORTICO_)."""

from __future__ import annotations

from portico_common.settings import ServiceSettings


class SloSettings(ServiceSettings):
    grpc_port: int = 50066
    # The evaluator's tick: every SLO is judged this often, so a burn that
    # stops is seen (slo.recovered) and gauges of a version without traffic
    # decay to 0. Reports judge their SLOs at once, without waiting for it.
    slo_gauge_refresh_seconds: float = 10.0
    # How often buckets no window or budget period reads are deleted.
    slo_prune_seconds: float = 3600.0
    # Outcomes older than this when reported are refused (their windows were
    # judged already), and so are those stamped further ahead than the skew.
    slo_max_lateness_seconds: int = 300
    slo_max_skew_seconds: int = 60
    # Pulled SLIs: the Prometheus server ("" turns pulling off), how often it
    # is read, and how old a step must be before it is read (scrape delay).
    slo_prometheus_url: str = ""
    slo_pull_seconds: float = 15.0
    slo_pull_lag_seconds: int = 30
