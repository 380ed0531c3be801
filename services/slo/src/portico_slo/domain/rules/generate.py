"""Sloth-style Prometheus rules for SLOs: SLI ratios per window, budget metadata, tier alerts.

For each SLO with a Prometheus SLI, one rule group (its rules run in order,
so each reads the fresh values of those before it):

    slo:sli_error:sample                    sampled SLIs only (see sli.py)
    slo:sli_error:ratio_rate<w>             the bad share of each window any enabled tier
                                            uses, and of the SLO period (the average of
                                            the shortest window's, Sloth's optimisation)
    slo:sli_events:increase<w>              events in each tier's short window (ratio SLIs)
    slo:tier_burn_rate:ratio                per tier: the lower of its two windows' burn
                                            rates, so the tier fires when it reaches the factor
    slo:objective:ratio, slo:error_budget:ratio, slo:time_period:days,
    slo:current_burn_rate:ratio, slo:period_burn_rate:ratio,
    slo:period_error_budget_remaining:ratio, portico_slo_info
                                            Sloth's metadata, for dashboards
    alert <name> per enabled tier           tier burn >= factor, with at least the
                                            tier's minimum events in its short window

The tiers are the SLO's own (the workbook's four scaled to its period
unless it says otherwise), judged exactly as the evaluator judges them.
Each alert carries `tier`, `tier_rank` (1 is the fastest) and `severity`;
`inhibit_rules` lets a firing faster tier mute the slower ones of the same
SLO in Alertmanager, as the evaluator does (one page, not four).

A calendar-aligned SLO's period is read as a rolling window of its nominal
length: PromQL has no calendar.
"""

from __future__ import annotations

from collections.abc import Iterable

from portico_slo.domain.durations import format_duration
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.rules import sli
from portico_slo.domain.rules.model import (
    SEVERITY,
    TENANT,
    TIER,
    TIER_RANK,
    WINDOW,
    InhibitRule,
    Rule,
    RuleGroup,
    RuleSet,
    RuleTarget,
    Skipped,
)
from portico_slo.domain.rules.promql import matchers, number
from portico_slo.domain.tiers import BurnRateTier
from portico_slo.errors import InvalidRulesError

SAMPLE = "slo:sli_error:sample"
TIER_BURN = "slo:tier_burn_rate:ratio"
PUSHED = "its SLI is pushed with ReportOutcomes, so Prometheus has no series to measure it on"
_TIER_LABELS = f"{WINDOW}, {TIER}, {TIER_RANK}, {SEVERITY}"


def error_ratio(seconds: int) -> str:
    """The record name of a window's SLI error ratio: slo:sli_error:ratio_rate5m."""
    return f"slo:sli_error:ratio_rate{format_duration(seconds)}"


def events_record(seconds: int) -> str:
    return f"slo:sli_events:increase{format_duration(seconds)}"


def generate(targets: Iterable[RuleTarget]) -> RuleSet:
    """The rules of every target with a Prometheus SLI; the others are skipped, saying why."""
    groups: list[RuleGroup] = []
    skipped: list[Skipped] = []
    ranks = 0
    equal = {"alertname", TENANT, "slo"}
    for target in targets:
        d = target.definition
        if d.indicator.prometheus is None:
            skipped.append(Skipped(d.slo_id, d.name, PUSHED))
            continue
        groups.append(rule_group(target))
        if d.alerting.enabled:
            ranks = max(ranks, len(d.alerting.tiers))
            equal.update(target.group_by)
    names = [g.name for g in groups]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidRulesError("slo names", f"two SLOs would share rule groups: {repeated}")
    inhibit = tuple(
        InhibitRule(rank, tuple(range(rank + 1, ranks + 1)), tuple(sorted(equal)))
        for rank in range(1, ranks)
    )
    return RuleSet(tuple(groups), tuple(skipped), inhibit)


def rule_group(target: RuleTarget) -> RuleGroup:
    """One SLO's rules, in the order they must run."""
    d = target.definition
    ident = target.identity
    pick = matchers(target.selector)
    budget = number(d.error_budget)
    enabled = d.alerting.enabled
    windows = sorted(
        {t.short_window_seconds for t in enabled}
        | {t.long_window_seconds for t in enabled}
        | {d.fastest.short_window_seconds}
    )
    shortest = windows[0]
    period = d.window_seconds
    sampled = sli.is_sampled(d)
    source = sli.source_of(d)
    rules: list[Rule] = []

    def recorded(name: str, expr: str, **extra: str) -> None:
        labels = {k: v for k, v in (ident | extra).items() if v}
        rules.append(Rule(expr, record=name, labels=tuple(labels.items())))

    def ratio(seconds: int) -> str:
        if sampled:
            return f"avg_over_time({SAMPLE}{pick}[{format_duration(seconds)}])"
        return sli.event_error_ratio(source, seconds, target.group_by)

    if sampled:
        recorded(SAMPLE, sli.sample(d, target.group_by, shortest))
    for w in windows:
        recorded(error_ratio(w), ratio(w), **{WINDOW: format_duration(w)})
    if period not in windows:
        # Reading every event of the period at each evaluation is costly;
        # sampled SLIs average their samples anyway, ratio SLIs average the
        # shortest window's ratio over the period (Sloth's optimisation).
        whole = (
            ratio(period)
            if sampled
            else f"avg_over_time({error_ratio(shortest)}{pick}[{format_duration(period)}])"
        )
        recorded(error_ratio(period), whole, **{WINDOW: format_duration(period)})
    if not source.is_threshold:
        for w in sorted({t.short_window_seconds for t in enabled}):
            recorded(
                events_record(w),
                sli.events(source, w, target.group_by),
                **{WINDOW: format_duration(w)},
            )
    ranks = {t.name: i for i, t in enumerate(d.alerting.tiers, start=1)}
    for tier in enabled:
        recorded(
            TIER_BURN,
            f"min without ({WINDOW}) (\n"
            f"  {error_ratio(tier.short_window_seconds)}{pick}\n  or\n"
            f"  {error_ratio(tier.long_window_seconds)}{pick}\n)\n/ {budget}",
            **_tier_labels(tier, ranks[tier.name]),
        )
    recorded("slo:objective:ratio", f"vector({number(d.objective)})")
    recorded("slo:error_budget:ratio", f"vector({budget})")
    recorded("slo:time_period:days", f"vector({number(period / 86_400)})")
    recorded("slo:current_burn_rate:ratio", f"{error_ratio(shortest)}{pick} / {budget}")
    recorded("slo:period_burn_rate:ratio", f"{error_ratio(period)}{pick} / {budget}")
    recorded("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{pick}")
    recorded("portico_slo_info", "vector(1)", **_info(d, target))
    rules.extend(_alert(target, tier, ranks[tier.name]) for tier in enabled)
    return RuleGroup(_group_name(target), tuple(rules))


def _alert(target: RuleTarget, tier: BurnRateTier, rank: int) -> Rule:
    d = target.definition
    pick = matchers(target.selector | {TIER: tier.name})
    short = tier.short_window_seconds
    base = matchers(target.selector)
    if sli.source_of(d).is_threshold:
        # A sampled value has no traffic to count: its short window must hold samples.
        guard = f"{error_ratio(short)}{base}"
    else:
        guard = f"{events_record(short)}{base} >= {d.alerting.min_events_for(tier)}"
    expr = f"{TIER_BURN}{pick} >= {number(tier.factor)}\nand ignoring ({_TIER_LABELS})\n{guard}"
    # The series carry the identity already; restating it keeps two SLOs' alerts
    # from being the same rule to promtool's duplicate check.
    labels = target.identity | _tier_labels(tier, rank) | target.routing_labels
    return Rule(
        expr,
        alert=target.alert_name,
        labels=tuple(labels.items()),
        annotations=tuple(_annotations(target, tier).items()),
    )


def _tier_labels(tier: BurnRateTier, rank: int) -> dict[str, str]:
    return {TIER: tier.name, TIER_RANK: str(rank), SEVERITY: tier.severity.value}


def _annotations(target: RuleTarget, tier: BurnRateTier) -> dict[str, str]:
    d = target.definition
    groups = "".join(
        f"{{{{ with $labels.{g} }}}} {g}={{{{ . }}}}{{{{ end }}}}" for g in target.group_by
    )
    share = tier.factor * tier.long_window_seconds / d.window_seconds
    short, long = (
        format_duration(tier.short_window_seconds),
        format_duration(tier.long_window_seconds),
    )
    out = {
        "summary": f"{d.name}{groups}: error budget burning "
        f'{{{{ printf "%.1f" $value }}}}x ({tier.name}, {tier.severity.value} at '
        f"{number(tier.factor)}x)",
        "description": f"The {short} and the {long} error ratios of {d.name} both burn its "
        f"error budget at {number(tier.factor)}x or faster (objective "
        f"{number(d.objective * 100)}% over {d.window.duration}): at that rate "
        f"{number(share * 100)}% of the budget is spent in {long}.",
    }
    if target.runbook:
        out["runbook"] = target.runbook
    return out


def _info(d: SloDefinition, target: RuleTarget) -> dict[str, str]:
    source = sli.source_of(d)
    return {
        "objective": number(d.objective * 100),
        "period": str(d.window.duration),
        "calendar": "false" if d.window.rolling else "true",
        "budgeting": d.budgeting.value,
        "sli": "threshold" if source.is_threshold else "ratio",
        "tiers": ",".join(t.name for t in d.alerting.enabled),
        "group_by": ",".join(target.group_by),
    }


def _group_name(target: RuleTarget) -> str:
    tenant = target.identity.get(TENANT)
    name = target.definition.name
    return f"slo/{tenant}/{name}" if tenant else f"slo/{name}"
