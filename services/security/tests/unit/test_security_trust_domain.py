"""The five trust factors, the weights and the score's determinism (domain, no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portico_security.trust.domain.advisories import match_packages
from portico_security.trust.domain.osv import parse_osv
from portico_security.trust.domain.scores import (
    Evidence,
    PackageSignals,
    PublisherEvidence,
    Release,
    TrustInputs,
    TrustWeights,
)
from portico_security.trust.domain.scoring import (
    cadence_factor,
    community_factor,
    publisher_factor,
    quality_factor,
    score_trust,
    security_history_factor,
)
from portico_security.trust.errors import InvalidTrustWeightsError

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def points(evidence: tuple[Evidence, ...]) -> int:
    return max(0, min(100, sum(e.points for e in evidence)))


def signals(**overrides: Any) -> PackageSignals:
    base: dict[str, Any] = {
        "weekly_downloads": 50_000,
        "dependents": 120,
        "stars": 800,
        "contributors": 4,
        "has_tests": True,
        "has_ci": True,
        "has_lint": True,
        "has_types": True,
        "has_docs": True,
        "license": "Apache-2.0",
        "security_policy": True,
        "repository": "https://github.com/acme/plugins",
        "releases": tuple(Release(f"1.{i}.0", NOW - timedelta(days=30 + 60 * i)) for i in range(6)),
    }
    base.update(overrides)
    return PackageSignals(**base)


def advisory(adv_id: str, *events: dict[str, str], published: str = "2026-01-01T00:00:00Z") -> Any:
    return parse_osv(
        {
            "id": adv_id,
            "modified": "2026-01-02T00:00:00Z",
            "published": published,
            "affected": [
                {
                    "package": {"ecosystem": "npm", "name": "@acme/plugin"},
                    "ranges": [{"type": "SEMVER", "events": list(events)}],
                }
            ],
            "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
        },
        "t",
    )


def inputs(**overrides: Any) -> TrustInputs:
    base: dict[str, Any] = {
        "plugin": "@acme/plugin",
        "version": "1.0.0",
        "now": NOW,
        "publisher": PublisherEvidence(
            identity_verified=True,
            signature_verified=True,
            key_created_at=NOW - timedelta(days=400),
            provenance_verified=True,
            slsa_level=3,
        ),
        "signals": signals(),
    }
    base.update(overrides)
    return TrustInputs(**base)


def test_publisher_with_everything_verified_scores_100() -> None:
    """Identity, signature, a year-old key, provenance and SLSA L3 add up to 100."""
    assert points(publisher_factor(inputs().publisher, NOW)) == 100


def test_publisher_with_nothing_verified_scores_0() -> None:
    """No identity, signature, key or provenance earns nothing."""
    assert points(publisher_factor(PublisherEvidence(), NOW)) == 0


@pytest.mark.parametrize(
    ("age_days", "key_points"), [(400, 15), (100, 10), (45, 5), (3, 0), (-5, 0)]
)
def test_key_age_tiers(age_days: int, key_points: int) -> None:
    """Older keys earn more; a brand-new key or one dated in the future earns nothing."""
    evidence = PublisherEvidence(key_created_at=NOW - timedelta(days=age_days))
    (key,) = [e for e in publisher_factor(evidence, NOW) if e.signal == "key_age_days"]
    assert key.points == key_points


def test_slsa_level_counts_only_with_verified_provenance() -> None:
    """A claimed SLSA level without verified provenance earns no points."""
    evidence = PublisherEvidence(provenance_verified=False, slsa_level=3)
    (slsa,) = [e for e in publisher_factor(evidence, NOW) if e.signal == "slsa_level"]
    assert (slsa.value, slsa.points) == ("0", 0)


def test_security_history_clean_package_scores_100() -> None:
    """No advisories at all keeps the baseline of 100."""
    assert points(security_history_factor(inputs())) == 100


def test_open_critical_advisory_costs_60() -> None:
    """An open CRITICAL advisory against this version deducts 60, citing Vulnerabilities."""
    factor = security_history_factor(
        inputs(advisories=(advisory("GHSA-open", {"introduced": "0"}, {"fixed": "1.0.1"}),))
    )
    assert points(factor) == 40
    (open_,) = [e for e in factor if e.signal.startswith("open:")]
    assert (open_.value, open_.scorecard_check) == ("CRITICAL", "Vulnerabilities")


def test_past_advisory_fixed_fast_costs_5() -> None:
    """A past advisory fixed within 30 days of publication costs only its 5 points."""
    past = advisory(
        "GHSA-past", {"introduced": "0"}, {"fixed": "0.9.0"}, published="2025-12-20T00:00:00Z"
    )
    sig = signals(releases=(Release("0.9.0", datetime(2025, 12, 30, tzinfo=UTC)),))
    factor = security_history_factor(inputs(advisories=(past,), signals=sig))
    assert points(factor) == 95
    (fix,) = [e for e in factor if e.signal == "median_days_to_fix"]
    assert fix.value == "10"


def test_slow_fix_costs_more() -> None:
    """A fix released 200 days after the advisory deducts 10 more."""
    past = advisory(
        "GHSA-slow", {"introduced": "0"}, {"fixed": "0.9.0"}, published="2025-06-01T00:00:00Z"
    )
    sig = signals(releases=(Release("0.9.0", datetime(2025, 12, 18, tzinfo=UTC)),))
    assert points(security_history_factor(inputs(advisories=(past,), signals=sig))) == 85


def test_open_dependency_advisories_cost_half_capped_at_40() -> None:
    """Dependency advisories cost half their direct penalty, 40 at most in total."""
    dep_doc = {
        "id": "GHSA-dep",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
            }
            for name in ("a", "b", "c")
        ],
        "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
    }
    dep = parse_osv(dep_doc, "t")
    one = match_packages([dep], [("a", "1.0.0", False)])
    three = match_packages([dep], [(n, "1.0.0", False) for n in ("a", "b", "c")])
    assert points(security_history_factor(inputs(dependency_matches=tuple(one)))) == 70
    assert points(security_history_factor(inputs(dependency_matches=tuple(three)))) == 60


def test_withdrawn_advisories_do_not_count() -> None:
    """A withdrawn advisory is neither open nor past."""
    withdrawn = dataclasses.replace(
        advisory("GHSA-w", {"introduced": "0"}), withdrawn=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert points(security_history_factor(inputs(advisories=(withdrawn,)))) == 100


def test_community_tiers() -> None:
    """Downloads 50k (30), dependents 120 (18), stars 800 (14), 4 contributors (10) = 72."""
    assert points(community_factor(signals())) == 72


def test_unknown_package_scores_0_and_says_why() -> None:
    """Without registry signals, community, quality and cadence are 0 with 'none' evidence."""
    for factor in (community_factor(None), quality_factor(None), cadence_factor(None, NOW)):
        assert points(factor) == 0
        assert factor[0].value == "none"


def test_quality_all_signals_score_100() -> None:
    """Tests, CI, lint, types, docs, licence, security policy and repository add up to 100."""
    assert points(quality_factor(signals())) == 100


@pytest.mark.parametrize("flag", ["deprecated", "archived"])
def test_unmaintained_package_loses_all_quality(flag: str) -> None:
    """A deprecated or archived package scores 0 on quality (Scorecard Maintained)."""
    factor = quality_factor(signals(**{flag: True}))
    assert points(factor) == 0
    assert factor[-1].scorecard_check == "Maintained"


def test_cadence_recent_and_regular_scores_100() -> None:
    """A release 30 days ago, 6 this year, no gap over 180 days: 60 + 25 + 15."""
    assert points(cadence_factor(signals(), NOW)) == 100


def test_cadence_stale_package() -> None:
    """Last release 800 days ago: nothing for recency or this year; one old gap of 100 days."""
    old = (
        Release("0.1.0", NOW - timedelta(days=900)),
        Release("0.2.0", NOW - timedelta(days=800)),
    )
    assert points(cadence_factor(signals(releases=old), NOW)) == 15


def test_cadence_ignores_releases_after_now() -> None:
    """A release dated after 'now' does not count, so the score depends only on the clock."""
    future = (Release("9.0.0", NOW + timedelta(days=1)),)
    assert points(cadence_factor(signals(releases=future), NOW)) == 0


def test_score_is_the_weighted_mean_rounded_half_up() -> None:
    """Only publisher weighted: the score is the publisher factor; mixed weights round half up."""
    only_publisher = TrustWeights(
        publisher=1, security_history=0, community=0, quality=0, update_cadence=0
    )
    assert (
        score_trust(
            inputs(publisher=PublisherEvidence(identity_verified=True)), only_publisher
        ).score
        == 20
    )
    half = TrustWeights(publisher=1, security_history=1, community=0, quality=0, update_cadence=0)
    # publisher 25 (signature only), security 100: (25 + 100) / 2 = 62.5 -> 63
    result = score_trust(inputs(publisher=PublisherEvidence(signature_verified=True)), half)
    assert result.score == 63


def test_default_weights_breakdown() -> None:
    """Default weights 30/25/15/15/15 over 100/100/72/100/100 give 96, with all five factors."""
    result = score_trust(inputs())
    assert [(f.name, f.score, f.weight) for f in result.factors] == [
        ("publisher", 100, 30),
        ("security_history", 100, 25),
        ("community", 72, 15),
        ("quality", 100, 15),
        ("update_cadence", 100, 15),
    ]
    assert result.score == 96


def test_same_inputs_same_score_and_digest() -> None:
    """Scoring equal inputs twice gives equal scores, breakdowns and digests."""
    first, second = score_trust(inputs()), score_trust(inputs())
    assert first == second
    assert len(first.inputs_digest) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"now": NOW + timedelta(seconds=1)},
        {"version": "1.0.1"},
        {"signals": None},
        {"publisher": PublisherEvidence()},
    ],
)
def test_digest_changes_with_any_input(change: dict[str, Any]) -> None:
    """Changing the time, version, signals or publisher evidence changes the digest."""
    assert score_trust(inputs(**change)).inputs_digest != score_trust(inputs()).inputs_digest


def test_digest_changes_with_weights() -> None:
    """Different weights give a different digest even when the score happens to match."""
    other = TrustWeights(publisher=31)
    assert score_trust(inputs(), other).inputs_digest != score_trust(inputs()).inputs_digest


@pytest.mark.parametrize(
    "weights",
    [
        {"publisher": 101},
        {"publisher": -1},
        {"publisher": 0, "security_history": 0, "community": 0, "quality": 0, "update_cadence": 0},
    ],
)
def test_invalid_weights_are_refused(weights: dict[str, int]) -> None:
    """A weight outside 0-100, or all weights zero, raises InvalidTrustWeightsError."""
    with pytest.raises(InvalidTrustWeightsError):
        TrustWeights(**weights)
