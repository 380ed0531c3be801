"""The rule generator: windows, tiers, guards, labels and inhibit rules per SLO."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portico_slo.domain.indicator import BudgetingMethod, Indicator, PrometheusSource
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.rules import Rule, RuleSet, RuleTarget, generate
from portico_slo.domain.scope import Scope, ScopeKind
from portico_slo.domain.tiers import AlertPolicy
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import InvalidRulesError

BAD = 'http_requests_total{code=~"5.."}'
TOTAL = "http_requests_total"


def pulled(
    *,
    objective: float = 0.999,
    window_seconds: int = 30 * 86_400,
    source: PrometheusSource | None = None,
    slo_id: str = "slo-1",
    **changes: object,
) -> SloDefinition:
    """A 30-day SLO on a Prometheus ratio SLI with the workbook's tiers, changed as asked."""
    base = SloDefinition.with_defaults(
        slo_id=slo_id,
        tenant_id="acme",
        plugin="@acme/p",
        version="1.0.0",
        objective=objective,
        window_seconds=window_seconds,
    )
    indicator = Indicator(prometheus=source or PrometheusSource(bad=BAD, total=TOTAL))
    return replace(base, indicator=indicator, **changes)  # type: ignore[arg-type]


def rules_of(ruleset: RuleSet) -> list[Rule]:
    [group] = ruleset.groups
    return list(group.rules)


def records(ruleset: RuleSet) -> list[str]:
    return [r.record for r in rules_of(ruleset) if r.record]


def alerts(ruleset: RuleSet) -> list[Rule]:
    return [r for r in rules_of(ruleset) if r.alert]


def one(ruleset: RuleSet, record: str, **labels: str) -> Rule:
    [found] = [
        r
        for r in rules_of(ruleset)
        if r.record == record and labels.items() <= dict(r.labels).items()
    ]
    return found


def test_every_window_a_tier_uses_is_recorded_once_with_the_period() -> None:
    """A 30-day SLO records the seven windows of the four tiers, then the 30-day period."""
    ruleset = generate([RuleTarget(pulled())])

    ratios = [r for r in records(ruleset) if r.startswith("slo:sli_error:ratio_rate")]
    assert [r.removeprefix("slo:sli_error:ratio_rate") for r in ratios] == [
        "5m",
        "30m",
        "1h",
        "2h",
        "6h",
        "1d",
        "3d",
        "30d",
    ]
    assert [r for r in records(ruleset) if r.startswith("slo:sli_events")] == [
        "slo:sli_events:increase5m",
        "slo:sli_events:increase30m",
        "slo:sli_events:increase2h",
        "slo:sli_events:increase6h",
    ]


def test_a_window_error_ratio_divides_bad_by_total_and_is_absent_without_traffic() -> None:
    """Bad over total per window; missing bad series count as 0 and no traffic as no sample."""
    rule = one(generate([RuleTarget(pulled())]), "slo:sli_error:ratio_rate1h")

    assert rule.expr == (
        "(\n"
        f"  sum (rate({BAD}[1h]))\n"
        "  or\n"
        f"  sum (rate({TOTAL}[1h])) * 0\n"
        ")\n/\n"
        f"(sum (rate({TOTAL}[1h])) > 0)"
    )
    assert dict(rule.labels) == {
        "tenant": "acme",
        "plugin": "@acme/p",
        "version": "1.0.0",
        "slo": "slo-1",
        "slo_name": "@acme/p@1.0.0",
        "window": "1h",
    }


def test_a_good_events_sli_records_one_minus_the_good_share() -> None:
    """With `good` instead of `bad`, the error ratio is 1 - good/total."""
    source = PrometheusSource(good='latency_bucket{le="0.3"}', total="latency_count")
    rule = one(generate([RuleTarget(pulled(source=source))]), "slo:sli_error:ratio_rate5m")

    assert rule.expr.startswith('1 - (\n(\n  sum (rate(latency_bucket{le="0.3"}[5m]))')
    assert "(sum (rate(latency_count[5m])) > 0)" in rule.expr


def test_queries_are_read_as_selectors_templates_or_subqueries() -> None:
    """A selector is rated, a `{{window}}` query used as written, anything else subqueried."""
    source = PrometheusSource(
        bad='sum(increase(errors_total{job="api"}[{{window}}]))',
        total="sum by (pod) (requests_total)",
    )
    expr = one(generate([RuleTarget(pulled(source=source))]), "slo:sli_error:ratio_rate30m").expr

    assert '(sum(increase(errors_total{job="api"}[30m])))' in expr
    assert "sum (rate((sum by (pod) (requests_total))[30m:]))" in expr


def test_the_period_ratio_averages_the_shortest_window() -> None:
    """The 30-day ratio is the 5m ratio averaged over 30 days, as Sloth optimises it."""
    rule = one(generate([RuleTarget(pulled())]), "slo:sli_error:ratio_rate30d")

    assert rule.expr == 'avg_over_time(slo:sli_error:ratio_rate5m{tenant="acme", slo="slo-1"}[30d])'
    assert dict(rule.labels)["window"] == "30d"


def test_each_tier_records_the_lower_burn_of_its_windows() -> None:
    """A tier's burn rate is the minimum of its short and long windows over the budget."""
    rule = one(generate([RuleTarget(pulled())]), "slo:tier_burn_rate:ratio", tier="page-6h")

    assert rule.expr == (
        "min without (window) (\n"
        '  slo:sli_error:ratio_rate30m{tenant="acme", slo="slo-1"}\n'
        "  or\n"
        '  slo:sli_error:ratio_rate6h{tenant="acme", slo="slo-1"}\n'
        ")\n/ 0.001"
    )
    assert {"tier": "page-6h", "tier_rank": "2", "severity": "page"}.items() <= dict(
        rule.labels
    ).items()


def test_one_alert_per_tier_with_the_workbook_factors_and_traffic_guards() -> None:
    """Four alerts: 14.4, 6, 3 and 1, each needing 10 events per 5 minutes of its short window."""
    found = alerts(generate([RuleTarget(pulled())]))

    assert [(dict(a.labels)["tier"], dict(a.labels)["severity"]) for a in found] == [
        ("page-1h", "page"),
        ("page-6h", "page"),
        ("ticket-1d", "ticket"),
        ("ticket-3d", "ticket"),
    ]
    assert found[0].alert == "SLOBurnRate"
    assert found[0].expr == (
        'slo:tier_burn_rate:ratio{tenant="acme", slo="slo-1", tier="page-1h"} >= 14.4\n'
        "and ignoring (window, tier, tier_rank, severity)\n"
        'slo:sli_events:increase5m{tenant="acme", slo="slo-1"} >= 10'
    )
    guards = [a.expr.rsplit(" >= ", 1)[1] for a in found]
    factors = [a.expr.split(" >= ")[1].split("\n")[0] for a in found]
    assert (factors, guards) == (["14.4", "6", "3", "1"], ["10", "60", "240", "720"])


def test_factors_scale_with_the_period() -> None:
    """A 28-day SLO pages at 13.44 and 5.6; a 90-day one at 43.2 and 18."""

    def factors(days: int) -> list[str]:
        found = alerts(generate([RuleTarget(pulled(window_seconds=days * 86_400))]))
        return [a.expr.split(" >= ")[1].split("\n")[0] for a in found]

    assert factors(28) == ["13.44", "5.6", "2.8", "0.933333333"]
    assert factors(90) == ["43.2", "18", "9", "3"]


def test_a_short_period_drops_the_tiers_it_cannot_hold() -> None:
    """A 1-day SLO has no 3-day tier, and its period is one of the tier windows already."""
    ruleset = generate([RuleTarget(pulled(window_seconds=86_400, objective=0.99))])

    assert [dict(a.labels)["tier"] for a in alerts(ruleset)] == ["page-1h", "page-6h", "ticket-1d"]
    assert records(ruleset).count("slo:sli_error:ratio_rate1d") == 1
    assert "slo:sli_error:ratio_rate3d" not in records(ruleset)


def test_a_disabled_tier_has_no_alert_and_the_others_keep_their_rank() -> None:
    """Disabling page-6h drops its alert, burn and windows; ticket-1d stays rank 3."""
    definition = pulled()
    definition = replace(
        definition, alerting=definition.alerting.with_disabled(frozenset({"page-6h"}))
    )
    ruleset = generate([RuleTarget(definition)])

    assert [(dict(a.labels)["tier"], dict(a.labels)["tier_rank"]) for a in alerts(ruleset)] == [
        ("page-1h", "1"),
        ("ticket-1d", "3"),
        ("ticket-3d", "4"),
    ]
    assert "slo:sli_error:ratio_rate30m" not in records(ruleset)


def test_budget_metadata_is_recorded_as_sloth_does() -> None:
    """Objective, budget, period in days, current and period burn rates, budget remaining."""
    ruleset = generate([RuleTarget(pulled(objective=0.99))])

    assert one(ruleset, "slo:objective:ratio").expr == "vector(0.99)"
    assert one(ruleset, "slo:error_budget:ratio").expr == "vector(0.01)"
    assert one(ruleset, "slo:time_period:days").expr == "vector(30)"
    assert one(ruleset, "slo:current_burn_rate:ratio").expr == (
        'slo:sli_error:ratio_rate5m{tenant="acme", slo="slo-1"} / 0.01'
    )
    assert one(ruleset, "slo:period_error_budget_remaining:ratio").expr == (
        '1 - slo:period_burn_rate:ratio{tenant="acme", slo="slo-1"}'
    )
    info = dict(one(ruleset, "portico_slo_info").labels)
    assert (info["objective"], info["period"], info["budgeting"], info["sli"]) == (
        "99",
        "30d",
        "Occurrences",
        "ratio",
    )


def test_a_threshold_sli_is_sampled_and_its_windows_average_the_samples() -> None:
    """A p99 under 300 ms: 1 while it is above, NaN skipped; windows average; no event guard."""
    source = PrometheusSource(
        value="histogram_quantile(0.99, sum by (le) (rate(x_bucket[{{window}}])))",
        op="lte",
        threshold=0.3,
    )
    ruleset = generate([RuleTarget(pulled(source=source))])
    value = "sum (histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))))"

    assert one(ruleset, "slo:sli_error:sample").expr == (
        f"(\n  {value}\n  > bool 0.3\n)\nand\n({value} == {value})"
    )
    assert one(ruleset, "slo:sli_error:ratio_rate1h").expr == (
        'avg_over_time(slo:sli_error:sample{tenant="acme", slo="slo-1"}[1h])'
    )
    assert not [r for r in records(ruleset) if r.startswith("slo:sli_events")]
    assert alerts(ruleset)[0].expr.endswith(
        'slo:sli_error:ratio_rate5m{tenant="acme", slo="slo-1"}'
    )


@pytest.mark.parametrize(("op", "breaks"), [("lt", ">="), ("lte", ">"), ("gt", "<="), ("gte", "<")])
def test_a_sample_is_bad_when_its_comparison_fails(op: str, breaks: str) -> None:
    """Each operator's opposite marks the bad samples."""
    source = PrometheusSource(value="up", op=op, threshold=1)
    ruleset = generate([RuleTarget(pulled(source=source))])

    assert f"  {breaks} bool 1\n" in one(ruleset, "slo:sli_error:sample").expr


def test_timeslices_sample_the_last_slice_against_the_target() -> None:
    """Timeslices: a slice is bad while its good ratio is under the target; windows average."""
    definition = pulled(
        budgeting=BudgetingMethod.TIMESLICES, timeslice_target=0.95, timeslice_seconds=60
    )
    sample = one(generate([RuleTarget(definition)]), "slo:sli_error:sample").expr

    assert sample.startswith("1 - (\n(\n")
    assert f"sum (rate({BAD}[1m]))" in sample
    assert sample.endswith("\n< bool 0.95")


def test_ratio_timeslices_sample_the_last_slice_error_ratio() -> None:
    """RatioTimeslices: the sample is the slice's error ratio, averaged by each window."""
    definition = pulled(budgeting=BudgetingMethod.RATIO_TIMESLICES, timeslice_seconds=300)
    ruleset = generate([RuleTarget(definition)])

    assert one(ruleset, "slo:sli_error:sample").expr.startswith(f"(\n  sum (rate({BAD}[5m]))")
    assert one(ruleset, "slo:sli_error:ratio_rate6h").expr.startswith("avg_over_time(")


def test_grouping_keeps_one_series_per_label_value() -> None:
    """group_by sums per service, and the summary names the service."""
    ruleset = generate([RuleTarget(pulled(), group_by=("service",))])

    assert f"sum by (service) (rate({BAD}[5m]))" in one(ruleset, "slo:sli_error:ratio_rate5m").expr
    summary = dict(alerts(ruleset)[0].annotations)["summary"]
    assert "{{ with $labels.service }} service={{ . }}{{ end }}" in summary


def test_alerts_carry_identity_routing_labels_and_runbook() -> None:
    """Alerts restate the identity, add the SLO's own labels (valid names only) and runbook."""
    definition = pulled(labels=(("team", "checkout"), ("portico.dev/plugin", "x")))
    [alert, *_] = alerts(generate([RuleTarget(definition, runbook="https://runbooks/x")]))

    labels = dict(alert.labels)
    assert labels == {
        "tenant": "acme",
        "plugin": "@acme/p",
        "version": "1.0.0",
        "slo": "slo-1",
        "slo_name": "@acme/p@1.0.0",
        "tier": "page-1h",
        "tier_rank": "1",
        "severity": "page",
        "team": "checkout",
    }
    assert dict(alert.annotations)["runbook"] == "https://runbooks/x"


def test_without_a_tenant_label_the_scope_and_id_remain() -> None:
    """tenant_label=False leaves the tenant out of labels and selectors."""
    ruleset = generate([RuleTarget(pulled(), tenant_label=False)])

    rule = one(ruleset, "slo:current_burn_rate:ratio")
    assert "tenant" not in dict(rule.labels)
    assert rule.expr == 'slo:sli_error:ratio_rate5m{slo="slo-1"} / 0.001'


def test_a_canary_slo_is_labelled_with_its_rollout() -> None:
    """A canary scope adds the rollout label and records its seconds-long windows."""
    canary = pulled(
        scope=Scope(ScopeKind.CANARY, "@acme/p", "1.0.0", "r-9"),
        alerting=AlertPolicy.canary(),
        window=TimeWindow.rolling_seconds(3600),
    )
    ruleset = generate([RuleTarget(canary)])

    assert dict(one(ruleset, "slo:sli_error:ratio_rate5s").labels)["rollout"] == "r-9"
    assert [dict(a.labels)["tier"] for a in alerts(ruleset)] == ["canary"]


def test_pushed_slos_are_skipped_saying_why() -> None:
    """An SLO fed by ReportOutcomes has no Prometheus series: it is listed, not generated."""
    pushed = replace(pulled(), indicator=Indicator())
    ruleset = generate([RuleTarget(pushed), RuleTarget(pulled(slo_id="slo-2"))])

    assert [g.name for g in ruleset.groups] == ["slo/acme/@acme/p@1.0.0"]
    [skipped] = ruleset.skipped
    assert (skipped.slo_id, skipped.name) == ("slo-1", "@acme/p@1.0.0")
    assert "ReportOutcomes" in skipped.reason


def test_inhibit_rules_let_each_rank_mute_the_slower_ones() -> None:
    """Three rules for four tiers; equal holds the identity and every grouping label."""
    ruleset = generate([RuleTarget(pulled(), group_by=("service",))])

    assert ruleset.alertmanager() == {
        "inhibit_rules": [
            {
                "source_matchers": ['tier_rank="1"'],
                "target_matchers": ['tier_rank=~"2|3|4"'],
                "equal": ["alertname", "service", "slo", "tenant"],
            },
            {
                "source_matchers": ['tier_rank="2"'],
                "target_matchers": ['tier_rank=~"3|4"'],
                "equal": ["alertname", "service", "slo", "tenant"],
            },
            {
                "source_matchers": ['tier_rank="3"'],
                "target_matchers": ['tier_rank="4"'],
                "equal": ["alertname", "service", "slo", "tenant"],
            },
        ]
    }


def test_no_alerts_no_inhibit_rules() -> None:
    """An SLO whose tiers are all disabled records its ratios but alerts on nothing."""
    definition = pulled()
    names = frozenset(t.name for t in definition.alerting.tiers)
    ruleset = generate(
        [RuleTarget(replace(definition, alerting=definition.alerting.with_disabled(names)))]
    )

    assert alerts(ruleset) == []
    assert ruleset.inhibit_rules == ()
    assert "slo:sli_error:ratio_rate5m" in records(ruleset)


def test_label_values_are_escaped_in_selectors() -> None:
    """Quotes and backslashes in an id cannot break out of a PromQL string."""
    ruleset = generate([RuleTarget(pulled(slo_id='a"b\\c'))])

    assert 'slo="a\\"b\\\\c"' in one(ruleset, "slo:current_burn_rate:ratio").expr


@pytest.mark.parametrize(
    ("group_by", "problem"),
    [
        (("slo",), "rules write themselves"),
        (("9lives",), "not a label name"),
        (("__name__",), "not a label name"),
        (("service", "service"), "repeat"),
    ],
)
def test_grouping_labels_are_checked(group_by: tuple[str, ...], problem: str) -> None:
    """Grouping by a reserved, malformed or repeated label is refused, naming it."""
    with pytest.raises(InvalidRulesError, match=problem):
        RuleTarget(pulled(), group_by=group_by)


def test_alert_names_are_checked() -> None:
    """An alert name must be a metric name."""
    with pytest.raises(InvalidRulesError, match="alert_name"):
        RuleTarget(pulled(), alert_name="page me")


def test_two_slos_with_one_name_are_refused() -> None:
    """Rule groups are named after SLOs, so two SLOs of one name in a tenant cannot share a file."""
    with pytest.raises(InvalidRulesError, match="share rule groups"):
        generate([RuleTarget(pulled()), RuleTarget(pulled(slo_id="slo-2"))])
