"""deploy/prometheus: the generated rules are fresh, and generated rules work in promtool.

`make rules` writes rules.yml from slos.yml and operational.yml; here the
committed file must be what it would write. Rules generated for every kind
of SLI the slo service pulls (threshold values, time slices, windowed and
arbitrary queries, custom tiers, calendar windows) must pass `promtool check
rules`, and the sampled ones must fire, or not, in `promtool test rules`.
The inhibit rules, applied as Alertmanager applies them (slo's alerting
implements its semantics), leave one alert of a fast burn's four.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.inhibition import Inhibitor, InhibitRule
from portico_slo.alerting.domain.labels import Matcher

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES_ARGS = [
    "deploy/prometheus/slos.yml",
    "--include",
    "deploy/prometheus/operational.yml",
    "-o",
    "deploy/prometheus/rules.yml",
    "--alertmanager",
    "deploy/prometheus/alertmanager-inhibit.yml",
]


def promtool() -> str:
    """The promtool `make promtool` installs, else one on PATH."""
    local = ROOT / ".tools" / "bin" / "promtool"
    if local.exists():
        return str(local)
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: run `make promtool` (Debian's prometheus package)")
    return found


def rules_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "portico_slo.rules", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the promtool found above
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def slo(name: str, indicator: dict[str, Any], objective: dict[str, Any], **spec: Any) -> str:
    """One OpenSLO v1 SLO document with an inline indicator."""
    document = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name},
        "spec": {
            "service": "shop",
            "indicator": {"metadata": {"name": f"{name}-sli"}, "spec": indicator},
            "objectives": [objective],
            **spec,
        },
    }
    return yaml.safe_dump(document, sort_keys=False)


def source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def ratio(bad: str, total: str) -> dict[str, Any]:
    return {"ratioMetric": {"counter": True, "bad": source(bad), "total": source(total)}}


P99 = "histogram_quantile(0.99, sum by (le) (rate(req_seconds_bucket[{{window}}])))"
KINDS = {
    # A p99 judged against 300 ms: one sample per evaluation.
    "latency-p99": slo(
        "latency-p99",
        {"thresholdMetric": source(P99)},
        {"op": "lte", "value": 0.3, "target": 0.99},
    ),
    # Minutes whose good ratio is under 95% are bad minutes.
    "minutes": slo(
        "minutes",
        ratio("slice_errors_total", "slice_requests_total"),
        {"target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": "1m"},
        budgetingMethod="Timeslices",
    ),
    # The average of the minutes' good ratios.
    "ratio-minutes": slo(
        "ratio-minutes",
        ratio("slice_errors_total", "slice_requests_total"),
        {"target": 0.99, "timeSliceWindow": "1m"},
        budgetingMethod="RatioTimeslices",
    ),
    # Windowed queries, an arbitrary expression, a calendar month, a 28-day window.
    "windowed": slo(
        "windowed",
        ratio(
            'sum(increase(errors_total{job="api"}[{{window}}]))',
            "sum by (job) (requests_total)",
        ),
        {"target": 0.995},
        timeWindow=[
            {
                "duration": "1M",
                "isRolling": False,
                "calendar": {"startTime": "2026-01-01 00:00:00", "timeZone": "Europe/Paris"},
            }
        ],
    ),
    "four-weeks": slo(
        "four-weeks",
        ratio("errors_total", "requests_total"),
        {"target": 0.999},
        timeWindow=[{"duration": "28d", "isRolling": True}],
    ),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rules for every kind of SLI above, in a directory with rules.yml and inhibit.yml."""
    where = tmp_path_factory.mktemp("rules")
    (where / "slos.yml").write_text("---\n".join(KINDS.values()))
    done = rules_cli(
        "slos.yml",
        "-o",
        "rules.yml",
        "--alertmanager",
        "inhibit.yml",
        "--tenant",
        "acme",
        cwd=where,
    )
    assert done.returncode == 0, done.stderr
    return where


def test_the_committed_rule_file_is_what_make_rules_writes() -> None:
    """rules.yml and the inhibit rules match a fresh generation from their two sources."""
    done = rules_cli(*RULES_ARGS, "--check")

    assert done.returncode == 0, done.stderr


def test_the_committed_rule_file_says_it_is_generated() -> None:
    """Whoever opens rules.yml learns not to edit it and where its sources are."""
    head = (PROMETHEUS / "rules.yml").read_text().splitlines()[:2]

    assert head[0].startswith("# Generated by `python -m portico_slo.rules` from deploy/")
    assert "Do not edit" in head[1]


def test_rules_for_every_kind_of_sli_pass_promtool(generated: Path) -> None:
    """Threshold, time-slice, windowed, expression, calendar and 28-day SLOs all check."""
    done = run_promtool("check", "rules", "rules.yml", cwd=generated)

    assert done.returncode == 0, done.stdout + done.stderr
    groups = yaml.safe_load((generated / "rules.yml").read_text())["groups"]
    assert [g["name"] for g in groups] == [f"slo/acme/{name}" for name in KINDS]


def firing_tiers(generated: Path, series: list[dict[str, str]], at: str, tiers: list[str]) -> str:
    """promtool's verdict on which tiers fire at `at` (empty output: as expected)."""
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": 'count by (slo, tier) (ALERTS{alertstate="firing"})',
                        "eval_time": at,
                        "exp_samples": [
                            {"labels": f'{{slo="{slo_id}",tier="{tier}"}}', "value": 1}
                            for slo_id, tier in (t.split("/") for t in tiers)
                        ],
                    }
                ],
            }
        ],
    }
    (generated / "case.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = run_promtool("test", "rules", "case.test.yml", cwd=generated)
    return "" if done.returncode == 0 else done.stdout + done.stderr


ALL_TIERS = ["page-1h", "page-6h", "ticket-1d", "ticket-3d"]


def histogram(fast_per_minute: int, slow_per_minute: int) -> list[dict[str, str]]:
    """Requests per minute under 300 ms and between 300 ms and 1 s."""
    total = fast_per_minute + slow_per_minute
    return [
        {"series": 'req_seconds_bucket{le="0.3"}', "values": f"0+{fast_per_minute}x40"},
        {"series": 'req_seconds_bucket{le="1"}', "values": f"0+{total}x40"},
        {"series": 'req_seconds_bucket{le="+Inf"}', "values": f"0+{total}x40"},
    ]


def slice_requests(ok_per_minute: int, errors_per_minute: int) -> list[dict[str, str]]:
    """The time-slice SLOs' requests and errors per minute."""
    total = ok_per_minute + errors_per_minute
    return [
        {"series": "slice_requests_total", "values": f"0+{total}x40"},
        {"series": "slice_errors_total", "values": f"0+{errors_per_minute}x40"},
    ]


def test_a_threshold_sli_fires_while_its_value_breaks_the_threshold(generated: Path) -> None:
    """A p99 above 300 ms makes every sample bad: all four tiers of the 99% SLO fire."""
    tiers = [f"latency-p99/{t}" for t in ALL_TIERS]

    assert firing_tiers(generated, histogram(0, 60), "20m", tiers) == ""


def test_a_threshold_sli_within_its_threshold_fires_nothing(generated: Path) -> None:
    """A p99 under 300 ms is a good sample every time."""
    assert firing_tiers(generated, histogram(60, 0), "20m", []) == ""


def test_a_threshold_sli_without_traffic_has_no_samples(generated: Path) -> None:
    """No requests: the quantile is NaN, which is no sample, not a good or bad one."""
    assert firing_tiers(generated, histogram(0, 0), "20m", []) == ""


def test_bad_time_slices_fire_and_good_ones_do_not(generated: Path) -> None:
    """10% errors make every minute bad for a 95% slice target; 2% errors make none bad."""
    burning = [f"minutes/{t}" for t in ALL_TIERS] + [
        f"ratio-minutes/{t}" for t in ("page-6h", "ticket-1d", "ticket-3d")
    ]

    # RatioTimeslices averages the minutes' 10% error ratios: a 10x burn of a
    # 1% budget, above 6 but under 14.4.
    assert firing_tiers(generated, slice_requests(54, 6), "20m", burning) == ""
    assert firing_tiers(generated, slice_requests(98, 2), "20m", ["ratio-minutes/ticket-3d"]) == ""


def test_the_inhibit_rules_leave_the_fastest_of_a_fast_burns_alerts() -> None:
    """Applied with Alertmanager's semantics, only page-1h of the four tier alerts notifies."""
    document = yaml.safe_load((PROMETHEUS / "alertmanager-inhibit.yml").read_text())
    rules = [
        InhibitRule(
            tuple(_matcher(m) for m in rule["source_matchers"]),
            tuple(_matcher(m) for m in rule["target_matchers"]),
            tuple(rule["equal"]),
        )
        for rule in document["inhibit_rules"]
    ]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    fired = [
        {
            "alertname": "PorticoSLOErrorBudgetBurn",
            "slo": "grpc-availability",
            "service": service,
            "tier": tier,
            "tier_rank": str(rank),
        }
        for service in ("rollout", "auth")
        for rank, tier in enumerate(ALL_TIERS, start=1)
        if service == "rollout" or tier == "ticket-3d"
    ]
    inhibitor = Inhibitor(rules, [Alert("", labels, now, now) for labels in fired], now)

    notified = [(a["service"], a["tier"]) for a in fired if not inhibitor.mutes(a)]

    # auth's slow leak is its own: rollout's page does not mute another service's ticket.
    assert notified == [("rollout", "page-1h"), ("auth", "ticket-3d")]


def _matcher(text: str) -> Matcher:
    parsed = re.fullmatch(r'(\w+)(=~|!~|!=|=)"(.*)"', text)
    assert parsed, f"not an Alertmanager matcher: {text}"
    return Matcher.of(*parsed.groups())
