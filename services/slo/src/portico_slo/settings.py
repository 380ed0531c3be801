"""Settings of the slo service (env prefix PORTICO_)."""

from __future__ import annotations

from pydantic import SecretStr

from portico_common.settings import ServiceSettings


class SloSettings(ServiceSettings):
    grpc_port: int = 50066
    # The evaluator's tick: every SLO that can change is judged this often, so
    # a burn that stops is seen (slo.recovered) and gauges of a version without
    # traffic decay to 0. Reports judge their SLOs at once, without waiting for it.
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
    # Alerting. Seals channel secrets at rest (AES-GCM under a key derived with
    # HKDF); without it channels cannot be created or sent to. Keep it: stored
    # secrets cannot be read under another key.
    slo_channel_secret_key: SecretStr | None = None
    # How often due alert groups are flushed and queued notifications claimed.
    slo_alerting_tick_seconds: float = 1.0
    # Notifications sent at once (at most one per channel), and how long one
    # attempt to reach a channel may take.
    slo_alerting_workers: int = 8
    slo_alerting_send_timeout_seconds: float = 10.0
    # Pending notifications a channel may hold before the oldest are dropped.
    slo_alerting_queue_limit: int = 100
    # Resolved alerts, alert history, the notification log and finished
    # deliveries older than this are deleted (longer than any repeat interval).
    slo_alerting_retention_seconds: float = 7 * 24 * 3600.0
    # Circuit breakers: how often those whose wait ended are moved (an open
    # breaker with automatic transition to half-open, a half-open one with a
    # maximum wait); a report moves its version's breaker at once anyway.
    slo_breaker_tick_seconds: float = 1.0
