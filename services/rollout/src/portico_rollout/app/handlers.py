"""Rollout use cases: requests and reads from RPCs, and reactions to events.

Every change to a rollout and the events it causes commit in one transaction
(`commit`): the row, its decisions, the rollback saga's rows, the stable
version, the outbox. The scheduler's step is in `evaluation`, the operator
controls in `controls`, replays in `replay`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from portico_common.npm import require_package_name, require_version
from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_rollout.app.ports import (
    AdvisorySource,
    RolloutQuota,
    RolloutUnitOfWork,
    SloSource,
    UnitOfWorkFactory,
    VersionSlo,
)
from portico_rollout.app.saga import run_rollback_saga
from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.decisions import DecisionSource
from portico_rollout.domain.events import (
    InstallRolloutDeclined,
    RolloutCompleted,
    RolloutDecisionRecorded,
    RolloutEvent,
    RolloutRequested,
    RolloutRolledBack,
)
from portico_rollout.domain.naming import validate_id
from portico_rollout.domain.plan import PhaseSpec, Strategy, plan_for
from portico_rollout.domain.rollout import (
    DEFAULT_BAKE_SECONDS,
    DEFAULT_HOLD_TIMEOUT_SECONDS,
    DEFAULT_RECHECK_SECONDS,
    DEFAULT_SAMPLE_RECHECK_SECONDS,
    Rollout,
)
from portico_rollout.domain.state import RolloutState
from portico_rollout.domain.verdicts import CheckVerdict, apply_verdicts
from portico_rollout.errors import (
    InvalidRolloutError,
    RolloutAlreadyExistsError,
    RolloutConflictError,
    RolloutNotFoundError,
    VersionStillFailingError,
)

# An hour, like the default hold timeout: long enough for a slow burn-rate tier to fire.
DEFAULT_WATCH_AFTER_COMPLETION_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Defaults:
    """The server's defaults for what a request leaves out (from the settings)."""

    bake_seconds: int = DEFAULT_BAKE_SECONDS
    hold_timeout_seconds: int = DEFAULT_HOLD_TIMEOUT_SECONDS
    recheck_seconds: int = DEFAULT_RECHECK_SECONDS
    # The first look again at a phase holding for want of samples (doubling up to recheck).
    sample_recheck_seconds: int = DEFAULT_SAMPLE_RECHECK_SECONDS
    # How long a completed rollout stays watched: a violation in that time takes it back.
    watch_after_completion_seconds: int = DEFAULT_WATCH_AFTER_COMPLETION_SECONDS


@dataclass(frozen=True, slots=True)
class RolloutSpec:
    """What a request asks for; zeros and empties mean the defaults.

    `plan`, when given, is the whole plan (a phase with bake 0 bakes the
    rollout's bake); else the strategy makes one from `phases` and the rest.
    """

    strategy: Strategy = Strategy.CANARY
    phases: tuple[int, ...] = ()
    plan: tuple[PhaseSpec, ...] = ()
    criteria: Criteria = field(default_factory=Criteria)
    bake_seconds: int = 0
    hold_timeout_seconds: int = 0
    slo_template: str = ""
    preview_percent: int = 0
    watch_seconds: int = 0
    batches: int = 0
    # The rollback policy: 0 goes back at once; more steps the share down this often.
    rollback_step_seconds: int = 0

    def phases_for(self, defaults: Defaults) -> tuple[PhaseSpec, ...]:
        bake = self.bake_seconds or defaults.bake_seconds
        if self.plan:
            return tuple(
                PhaseSpec(p.percent, p.bake_seconds or bake, p.criteria, p.approval)
                for p in self.plan
            )
        return plan_for(
            self.strategy,
            bake_seconds=bake,
            criteria=self.criteria,
            phases=self.phases,
            preview_percent=self.preview_percent,
            watch_seconds=self.watch_seconds,
            batches=self.batches,
        )


# -- commands ------------------------------------------------------------------------


async def request_rollout(
    uow: UnitOfWorkFactory,
    slo: SloSource,
    tenant_id: str,
    plugin: str,
    version: str,
    *,
    spec: RolloutSpec | None = None,
    defaults: Defaults | None = None,
    attempt: int = 1,
    retry_of: str = "",
    quota: RolloutQuota | None = None,
    advisories: AdvisorySource | None = None,
) -> Rollout:
    """Creates a rollout of the plugin version over the current stable version.

    With a `quota`, one concurrent rollout is first reserved at tenancy under
    the new rollout's id (none left: RolloutQuotaExceededError, nothing
    created); if the rollout is then not created, the reservation is released.

    The version's SLO is ensured first (from the request's template or the
    tenant's default): without one the rollout is not created, nor while that
    SLO is violated or a breaker of the version is open (`require_recovered`).
    When slo last judged the SLO is kept: a violation it detected before that
    (an earlier attempt's) never rolls this one back. Verdicts
    recorded before the request count at once, so a rollout whose checks
    both passed already starts here, and a rejected one is refused.
    """
    spec = spec or RolloutSpec()
    defaults = defaults or Defaults()
    require_tenant_id(tenant_id)
    require_package_name(plugin, "plugin")
    require_version(version, "version")
    plan = spec.phases_for(defaults)
    version_slo = await slo.ensure_version_slo(tenant_id, plugin, version, spec.slo_template)
    await require_recovered(slo, tenant_id, plugin, version, version_slo)
    # What security knows against the version a rollback would go back to, read
    # now (outside the transaction) so a rollback before the first check knows it.
    critical: tuple[str, str, tuple[str, ...]] | None = None
    if advisories is not None:
        async with uow(tenant_id) as tx:
            stable = await tx.stable_versions.get(tenant_id, plugin)
        if stable:
            critical = (stable, plugin, await advisories.critical(tenant_id, plugin, stable))
    rollout_id = str(uuid.uuid4())
    args = (uow, tenant_id, plugin, version, rollout_id, spec, defaults, plan, version_slo)
    if quota is None:
        return await _create(*args, attempt=attempt, retry_of=retry_of, critical=critical)
    await quota.reserve_rollout(tenant_id, rollout_id, plugin, version)
    try:
        return await _create(*args, attempt=attempt, retry_of=retry_of, critical=critical)
    except BaseException as exc:
        await quota.release(tenant_id, rollout_id, f"rollout not created: {type(exc).__name__}")
        raise


async def _create(  # noqa: PLR0917 - request_rollout's checked arguments, passed on
    uow: UnitOfWorkFactory,
    tenant_id: str,
    plugin: str,
    version: str,
    rollout_id: str,
    spec: RolloutSpec,
    defaults: Defaults,
    plan: tuple[PhaseSpec, ...],
    version_slo: VersionSlo,
    *,
    attempt: int,
    retry_of: str,
    critical: tuple[str, str, tuple[str, ...]] | None,
) -> Rollout:
    async with uow(tenant_id) as tx:
        await tx.rollouts.lock_plugin(tenant_id, plugin)
        active = await tx.rollouts.active_for(tenant_id, plugin)
        if active is not None:
            raise RolloutAlreadyExistsError(tenant_id, plugin, active.rollout_id)
        now = tx.clock.now()
        rollout = Rollout.request(
            rollout_id=rollout_id,
            tenant_id=tenant_id,
            plugin=plugin,
            version=version,
            now=now,
            stable_version=await tx.stable_versions.get(tenant_id, plugin),
            bake_seconds=spec.bake_seconds or defaults.bake_seconds,
            strategy=spec.strategy,
            plan=plan,
            hold_timeout_seconds=spec.hold_timeout_seconds or defaults.hold_timeout_seconds,
            slo_id=version_slo.slo_id,
            attempt=attempt,
            retry_of=retry_of,
            rollback_step_seconds=spec.rollback_step_seconds,
            slo_ok_at=version_slo.evaluated_at,
        )
        # Announced even when verdicts start it at once: read paths learn of it from events.
        requested = RolloutRequested(
            tenant_id=tenant_id,
            rollout_id=rollout.rollout_id,
            plugin=plugin,
            version=version,
            occurred_at=now,
            stable_version=rollout.stable_version,
            phases=rollout.phases,
            bake_seconds=rollout.bake_seconds,
        )
        if critical is not None and critical[0] == rollout.stable_version:
            rollout.note_stable_advisories(critical[2], now)
        verdicts = await tx.verdicts.for_version(tenant_id, plugin, version)
        events = [requested, *apply_verdicts(rollout, verdicts, now)]
        if not await tx.rollouts.add(rollout):
            # Another request won the race between our check and our insert.
            winner = await tx.rollouts.active_for(tenant_id, plugin)
            raise RolloutAlreadyExistsError(
                tenant_id, plugin, winner.rollout_id if winner else "(concurrent request)"
            )
        await commit(tx, rollout, events, now, saved=True)
    return rollout


async def decline_install(  # noqa: PLR0917 - the install's identity, field by field
    uow: UnitOfWorkFactory, tenant_id: str, request_id: str, plugin: str, version: str, reason: str
) -> None:
    """Announces that an approved install's rollout was not requested (its quota hold goes)."""
    async with uow(tenant_id) as tx:
        await tx.publish(
            [
                InstallRolloutDeclined(
                    tenant_id=tenant_id,
                    rollout_id="",
                    plugin=plugin,
                    version=version,
                    occurred_at=tx.clock.now(),
                    request_id=request_id,
                    reason=reason,
                )
            ]
        )


async def require_recovered(
    slo: SloSource, tenant_id: str, plugin: str, version: str, version_slo: VersionSlo
) -> None:
    """Refuses to start a version whose SLO still burns or whose breaker is open.

    The version's SLO (and its breakers) outlive an attempt: a retry asked
    for while the earlier attempt's violation is still active would put
    users on a version slo knows to be failing now. Nothing is created;
    the error says what is still failing.
    """
    problems = []
    if version_slo.violated_at is not None:
        tiers = ", ".join(version_slo.firing) or "a burn-rate tier"
        problems.append(
            f"SLO {version_slo.slo_id} violated since {version_slo.violated_at.isoformat()}"
            f" ({tiers} firing)"
        )
    for breaker in await slo.open_breakers(tenant_id, plugin, version):
        since = f" since {breaker.since.isoformat()}" if breaker.since else ""
        problems.append(f"circuit breaker {breaker.breaker_id} {breaker.state}{since}")
    if problems:
        raise VersionStillFailingError(plugin, version, problems)


async def get_rollout(uow: UnitOfWorkFactory, tenant_id: str, rollout_id: str) -> Rollout:
    require_tenant_id(tenant_id)
    validate_id("rollout_id", rollout_id)
    async with uow(tenant_id) as tx:
        rollout = await tx.rollouts.get(tenant_id, rollout_id)
    if rollout is None:
        raise RolloutNotFoundError(rollout_id)
    return rollout


# -- reactions to events (the caller's transaction holds the inbox row) --------------


async def record_verdict(tx: RolloutUnitOfWork, verdict: CheckVerdict) -> list[RolloutEvent]:
    """Keeps the verdict, and applies it to the plugin version's rollout if one is under way.

    A verdict that comes before RequestRollout waits in the table until then.
    """
    require_scope(tx, verdict.tenant_id)
    require_package_name(verdict.plugin, "plugin")
    require_version(verdict.version, "version")
    await tx.rollouts.lock_plugin(verdict.tenant_id, verdict.plugin)
    await tx.verdicts.add(verdict)
    rollout = await tx.rollouts.active_for(verdict.tenant_id, verdict.plugin, lock=True)
    if rollout is None or rollout.version != verdict.version:
        return []
    now = tx.clock.now()
    before = rollout.to_row()
    verdicts = await tx.verdicts.for_version(verdict.tenant_id, verdict.plugin, verdict.version)
    events = apply_verdicts(rollout, verdicts, now)
    if rollout.to_row() != before:
        await commit(tx, rollout, events, now)
    return events


@dataclass(frozen=True, slots=True)
class SloViolation:
    """What rollout needs from an slo.violated (or slo.breaker.opened) event."""

    tenant_id: str
    plugin: str
    version: str
    slo_id: str
    rule: str
    event_id: str
    detected_at: datetime
    # Set when a circuit breaker opened: it, not an SLO, is the reason.
    breaker_id: str = ""

    @property
    def reason(self) -> str:
        if self.breaker_id:
            return f"circuit breaker {self.breaker_id} opened: {self.rule or 'thresholds reached'}"
        return f"slo {self.slo_id or '?'} violated: {self.rule or 'burn-rate rule'}"


async def roll_back_on_violation(
    tx: RolloutUnitOfWork, violation: SloViolation, *, watch_seconds: int = 0
) -> RolloutRolledBack | None:
    """Rolls back the plugin version's rollout: traffic to stable first, then compensations.

    A rollout serving users (in progress or paused) is rolled back. One still
    awaiting its checks is refused, so the violation is not lost when the
    checks pass later (a violation detected before the rollout was requested
    belongs to an earlier attempt and is ignored). A rollout that completed
    at most `watch_seconds` ago is to be taken back (its stable version goes
    back): the request is recorded on it and the scheduler decides it on its
    next pass, after reading the advisories of the version it would restore
    (the safety check), which no event handler may ask for inside its
    transaction. Anything else (a finished rollout, a rollback already done,
    a violation of another version) changes nothing: the event is late or
    duplicated. Returns the rolled_back event when traffic went back.
    """
    require_scope(tx, violation.tenant_id)
    rollout = await tx.rollouts.active_for(violation.tenant_id, violation.plugin, lock=True)
    now = tx.clock.now()
    evidence = {"violation": _violation_evidence(violation)}
    if (
        rollout is not None
        and rollout.version == violation.version
        and rollout.slo_ok_at is not None
        and violation.detected_at <= rollout.slo_ok_at
    ):
        # slo judged the SLO OK after it detected this one, before the rollout was
        # created (both on slo's clock): an earlier attempt's violation, recovered since.
        return None
    if rollout is None or rollout.version != violation.version:
        completed = await _watched_completion(tx, violation, now, watch_seconds)
        if completed is not None and completed.request_completed_rollback(
            violation.reason,
            now,
            source=DecisionSource.SLO,
            cause_event_id=violation.event_id,
            violation_detected_at=violation.detected_at,
            evidence=evidence,
        ):
            await tx.rollouts.save(completed)
        return None
    if not rollout.state.serves and not (
        rollout.state is RolloutState.AWAITING_CHECKS
        and violation.detected_at >= rollout.created_at
    ):
        return None
    events = rollout.roll_back(
        violation.reason,
        now,
        cause_event_id=violation.event_id,
        violation_detected_at=violation.detected_at,
        evidence=evidence,
    )
    await commit(tx, rollout, events, now)
    return next((e for e in events if isinstance(e, RolloutRolledBack)), None)


async def _watched_completion(
    tx: RolloutUnitOfWork, violation: SloViolation, now: datetime, watch_seconds: int
) -> Rollout | None:
    """The completed rollout of the violated version, if still in its post-promotion window.

    Only while that version is still the stable one: once another replaced
    it, going back to what it replaced would undo the newer version.
    """
    if watch_seconds <= 0:
        return None
    rollout = await completed_stable(tx, violation.tenant_id, violation.plugin, violation.version)
    done_at = rollout.completed_at() if rollout is not None else None
    if done_at is None or now - done_at > timedelta(seconds=watch_seconds):
        return None
    return rollout


async def completed_stable(
    tx: RolloutUnitOfWork, tenant_id: str, plugin: str, version: str
) -> Rollout | None:
    """The completed rollout that made `version` the plugin's stable one, locked; None if none.

    Raises RolloutConflictError while another transaction holds it (the
    caller's work is retried).
    """
    made = await tx.stable_versions.made_by(tenant_id, plugin)
    if made is None or made[0] != version:
        return None
    found = await tx.rollouts.get(tenant_id, made[1])
    if found is None or found.state is not RolloutState.COMPLETED or found.version != version:
        return None
    locked = await tx.rollouts.lock(tenant_id, found.rollout_id)
    if locked is None:
        raise RolloutConflictError(found.rollout_id, found.revision)
    return locked


def _violation_evidence(violation: SloViolation) -> dict[str, str]:
    evidence = {
        "slo_id": violation.slo_id,
        "rule": violation.rule,
        "event_id": violation.event_id,
        "detected_at": violation.detected_at.isoformat(),
    }
    # A breaker's opening names the breaker, so the decision shows what tripped.
    if violation.breaker_id:
        evidence["breaker_id"] = violation.breaker_id
    return evidence


# -- the one way a change is written -------------------------------------------------


async def commit(
    tx: RolloutUnitOfWork,
    rollout: Rollout,
    events: Sequence[RolloutEvent],
    now: datetime,
    *,
    saved: bool = False,
) -> None:
    """Writes the rollout and whatever its events imply, then queues the events.

    The state change is written first: for a rollback that IS the saga's
    first step (traffic to stable), so it is in place before anything else.
    """
    if not saved:
        await tx.rollouts.save(rollout)
    for event in events:
        if isinstance(event, RolloutDecisionRecorded):
            await tx.decisions.add(event.decision)
        elif isinstance(event, RolloutRolledBack):
            if event.after_completion:
                # The version was the stable one: the one it replaced serves again.
                await tx.stable_versions.set(
                    event.tenant_id, event.plugin, event.stable_version, event.rollout_id, now
                )
            await run_rollback_saga(tx, rollout, now)
        elif isinstance(event, RolloutCompleted):
            await tx.stable_versions.set(
                event.tenant_id, event.plugin, event.version, event.rollout_id, now
            )
    await tx.publish(events)


def require_scope(tx: RolloutUnitOfWork, tenant_id: str) -> None:
    require_tenant_id(tenant_id)
    if tx.tenant_id not in (tenant_id, ALL_TENANTS):
        raise InvalidRolloutError(
            "tenant_id", f"event for tenant {tenant_id!r} in a transaction of {tx.tenant_id!r}"
        )
