"""Settings of the rollout service (env prefix PORTICO_, own fields PORTICO_ROLLOUT_*)."""

from __future__ import annotations

from pydantic import Field, model_validator

from portico_common.settings import ServiceSettings


class RolloutSettings(ServiceSettings):
    grpc_port: int = 50065
    # How long each phase bakes when a request does not say (PORTICO_ROLLOUT_DEFAULT_BAKE_SECONDS).
    rollout_default_bake_seconds: int = Field(default=300, ge=0)
    # How often the scheduler looks for phases whose bake is over (PORTICO_ROLLOUT_TICK_SECONDS).
    rollout_tick_seconds: float = Field(default=0.2, gt=0)
    # Rollouts judged per scheduler pass; the rest wait for the next pass.
    rollout_scheduler_batch: int = Field(default=100, ge=1)
    # At most this many of one tenant per pass, so no tenant starves the others.
    rollout_scheduler_per_tenant: int = Field(default=10, ge=1)
    # A rollout whose evaluation failed (slo down, a bad row) is tried again after this.
    rollout_retry_seconds: int = Field(default=10, ge=1)
    # The saga runner (the rollback's steps after traffic): sagas per pass, at most this
    # many of one tenant, and steps of one saga per pass (PORTICO_ROLLOUT_SAGA_*).
    rollout_saga_batch: int = Field(default=50, ge=1)
    rollout_saga_per_tenant: int = Field(default=5, ge=1)
    rollout_saga_steps_per_pass: int = Field(default=20, ge=1)
    # A saga step that failed (compat or security down) waits before its next attempt:
    # after its n-th failure in a row, between half and all of
    # min(max, initial * 2**(n-1)) seconds.
    rollout_saga_retry_initial_seconds: float = Field(default=1.0, gt=0)
    rollout_saga_retry_max_seconds: float = Field(default=60.0, gt=0)
    # host:port of the slo service (EnsureVersionSlo, GetVersionOutcomes); empty: none,
    # and no rollout can be requested (PORTICO_ROLLOUT_SLO_TARGET).
    rollout_slo_target: str = ""
    rollout_slo_timeout_seconds: float = Field(default=5.0, gt=0)
    # host:port of compat (ListDependents): the plugins that need a rolled-back version
    # are rolled back too. Empty: the rollback saga records that it could not look
    # (PORTICO_ROLLOUT_COMPAT_TARGET).
    rollout_compat_target: str = ""
    rollout_compat_timeout_seconds: float = Field(default=5.0, gt=0)
    # host:port of security (ListAdvisoryMatches): an automatic rollback onto a stable
    # version with a critical advisory pauses and asks instead. Empty: not checked
    # (PORTICO_ROLLOUT_SECURITY_TARGET).
    rollout_security_target: str = ""
    rollout_security_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long a baked phase may hold (too few samples, a marginal judgment) before
    # the rollout fails and rolls back, unless a request says (the no-data timeout).
    rollout_hold_timeout_seconds: int = Field(default=3600, ge=0)
    # A completed rollout stays watched this long: slo.violated (or a breaker opening)
    # for its version in that time takes it back to the version it replaced
    # (PORTICO_ROLLOUT_WATCH_AFTER_COMPLETION_SECONDS; 0: not watched).
    rollout_watch_after_completion_seconds: int = Field(default=3600, ge=0)
    # How soon a holding phase is judged again.
    rollout_recheck_seconds: int = Field(default=30, ge=1)
    # How soon a phase holding only for want of samples is judged again the first
    # time; the wait doubles with each hold of the phase, up to rollout_recheck_seconds.
    rollout_sample_recheck_seconds: int = Field(default=1, ge=1)
    # The in-memory view behind ResolveVersion is read back whole this often, as a
    # safety net against an event lost without a reconnect (PORTICO_ROLLOUT_VIEW_RESYNC_SECONDS).
    rollout_view_resync_seconds: float = Field(default=60.0, gt=0)
    # HTTPRoutes for backend plugins (Gateway API): written as YAML under this directory
    # (PORTICO_ROLLOUT_HTTPROUTE_DIR) and/or server-side applied to the cluster at
    # PORTICO_ROLLOUT_KUBE_API_URL; with neither, no routes are rendered.
    rollout_httproute_dir: str = ""
    rollout_httproute_gateway: str = "portico"
    rollout_httproute_gateway_namespace: str = "portico"
    # A tenant's backend plugins run in the namespace <prefix><tenant id>.
    rollout_httproute_namespace_prefix: str = "portico-"
    rollout_kube_api_url: str = ""
    rollout_kube_token_file: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a secret
    rollout_kube_ca_file: str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

    @model_validator(mode="after")
    def _saga_retry_bounds(self) -> RolloutSettings:
        if self.rollout_saga_retry_max_seconds < self.rollout_saga_retry_initial_seconds:
            raise ValueError(
                "PORTICO_ROLLOUT_SAGA_RETRY_MAX_SECONDS must be at least"
                " PORTICO_ROLLOUT_SAGA_RETRY_INITIAL_SECONDS"
            )
        return self
