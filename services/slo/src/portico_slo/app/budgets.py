"""Error budgets, burn rates over any window, violations and the tenant's dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from portico_common.tenants import require_tenant_id
from portico_slo.app.evaluation import window_summaries
from portico_slo.app.ports import (
    SloFilter,
    SloRecord,
    SloUnitOfWork,
    UnitOfWorkFactory,
    ViolationRecord,
)
from portico_slo.domain.buckets import bucket_key, window_span
from portico_slo.domain.budget import Budget, budget_of, group_seconds_for, history
from portico_slo.domain.burn_rate import Evaluation, WindowSummary, evaluate, summary_burn
from portico_slo.domain.slo import TierState
from portico_slo.domain.tiers import Severity
from portico_slo.errors import InvalidSloDefinitionError, SloNotFoundError

MAX_HISTORY_POINTS = 1_000
MAX_VIOLATIONS = 500
DASHBOARD_VIOLATIONS = 5


@dataclass(frozen=True, slots=True)
class WindowBurn:
    window_seconds: int
    burn_rate: float
    summary: WindowSummary


@dataclass(frozen=True, slots=True)
class BudgetView:
    slo: SloRecord
    budget: Budget
    burns: list[WindowBurn]
    history: list[Budget]


async def _budget(tx: SloUnitOfWork, slo: SloRecord, now: datetime) -> Budget:
    period = slo.definition.window.period(now)
    b = slo.bucket_seconds
    # The period's buckets: from the one holding its start up to now's.
    low = bucket_key(period[0], b) - b
    [summary] = await tx.buckets.summaries(slo, [(low, bucket_key(now, b))])
    return budget_of(slo.definition, summary, period, now)


async def error_budget(
    uow: UnitOfWorkFactory,
    *,
    tenant_id: str,
    slo_id: str,
    burn_windows: Sequence[int] = (),
    history_points: int = 0,
    history_step_seconds: int = 0,
) -> BudgetView:
    """The current period's budget, burn rates over `burn_windows`, and the budget's history."""
    require_tenant_id(tenant_id)
    if history_points > MAX_HISTORY_POINTS:
        raise InvalidSloDefinitionError(
            "history_points", f"{history_points} is above {MAX_HISTORY_POINTS}"
        )
    async with uow(tenant_id) as tx:
        slo = await tx.slos.get(tenant_id, slo_id)
        if slo is None:
            raise SloNotFoundError(slo_id)
        now = tx.clock.now()
        b = slo.bucket_seconds
        spans = [window_span(now, w, b) for w in burn_windows]
        summaries = await tx.buckets.summaries(slo, spans)
        budget = await _budget(tx, slo, now)
        series: list[Budget] = []
        if history_points:
            group = group_seconds_for(b)
            step = history_step_seconds or 86_400
            if step % group:
                raise InvalidSloDefinitionError(
                    "history_step_seconds", f"{step} is not a multiple of {group}"
                )
            last = datetime.fromtimestamp(bucket_key(now, group), now.tzinfo)
            points = [last - timedelta(seconds=step * i) for i in reversed(range(history_points))]
            first_start = slo.definition.window.period(points[0])[0]
            low = bucket_key(first_start, group) - b
            groups = await tx.buckets.groups(slo, low, bucket_key(now, b), group)
            series = history(slo.definition, groups, points, group)
    burns = [
        WindowBurn(w, summary_burn(s, slo.definition), s)
        for w, s in zip(burn_windows, summaries, strict=True)
    ]
    return BudgetView(slo, budget, burns, series)


async def list_violations(
    uow: UnitOfWorkFactory, *, tenant_id: str, slo_id: str = "", limit: int = 0
) -> list[ViolationRecord]:
    require_tenant_id(tenant_id)
    if limit > MAX_VIOLATIONS:
        raise InvalidSloDefinitionError("limit", f"{limit} is above {MAX_VIOLATIONS}")
    async with uow(tenant_id) as tx:
        return await tx.violations.recent(tenant_id, slo_id, limit=limit or 50)


@dataclass(frozen=True, slots=True)
class Panel:
    """One SLO on the dashboard."""

    slo: SloRecord
    budget: Budget
    evaluation: Evaluation
    violations: list[ViolationRecord]


@dataclass(frozen=True, slots=True)
class PluginHealth:
    plugin: str
    health_score: float
    slos: int
    violated: int
    lowest_budget_remaining: float


@dataclass(frozen=True, slots=True)
class Dashboard:
    tenant_id: str
    as_of: datetime
    plugins: list[PluginHealth] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)


def health_score(panels: Sequence[Panel]) -> float:
    """0..100: the lowest remaining budget (clamped), halved by a ticket, zeroed by a page."""
    lowest = min(max(0.0, min(1.0, p.budget.remaining)) for p in panels)
    firing = {
        p.slo.definition.alerting.tier(name).severity  # type: ignore[union-attr]
        for p in panels
        for name, active in p.slo.status.tiers.items()
        if active.state is TierState.FIRING and p.slo.definition.alerting.tier(name)
    }
    if Severity.PAGE in firing:
        return 0.0
    score = 100 * lowest
    return score / 2 if Severity.TICKET in firing else score


async def dashboard(uow: UnitOfWorkFactory, *, tenant_id: str, plugin: str = "") -> Dashboard:
    """Every SLO of the tenant (or of one plugin) with its budget, burn per tier and violations."""
    require_tenant_id(tenant_id)
    panels: list[Panel] = []
    async with uow(tenant_id) as tx:
        now = tx.clock.now()
        after = ""
        while True:
            page = await tx.slos.page(tenant_id, SloFilter(plugin=plugin), after=after, limit=500)
            for slo in page:
                evaluation = evaluate(slo.definition, await window_summaries(tx, slo, now))
                panels.append(
                    Panel(
                        slo=slo,
                        budget=await _budget(tx, slo, now),
                        evaluation=evaluation,
                        violations=await tx.violations.recent(
                            tenant_id, slo.slo_id, limit=DASHBOARD_VIOLATIONS
                        ),
                    )
                )
            if len(page) < 500:
                break
            after = page[-1].definition.name
    by_plugin: dict[str, list[Panel]] = {}
    for panel in panels:
        by_plugin.setdefault(panel.slo.definition.plugin, []).append(panel)
    plugins = [
        PluginHealth(
            plugin=name,
            health_score=health_score(group),
            slos=len(group),
            violated=sum(bool(p.slo.status.tiers) for p in group),
            lowest_budget_remaining=min(p.budget.remaining for p in group),
        )
        for name, group in sorted(by_plugin.items())
    ]
    return Dashboard(tenant_id, now, plugins, panels)
