"""Label matchers and fingerprints behave as Alertmanager's."""

from __future__ import annotations

import pytest

from portico_slo.alerting.domain.labels import (
    Matcher,
    check_labels,
    fingerprint,
    matchers_key,
    matches_all,
)
from portico_slo.alerting.errors import InvalidAlertingError, InvalidMatcherError


@pytest.mark.parametrize(
    ("op", "value", "label", "expected"),
    [
        ("=", "page", "page", True),
        ("=", "page", "ticket", False),
        ("!=", "page", "ticket", True),
        ("!=", "page", "page", False),
        ("=~", "team-(a|b)", "team-b", True),
        ("=~", "team", "team-b", False),
        ("=~", "b", "abc", False),
        ("!~", "team-(a|b)", "team-c", True),
        ("!~", "team-(a|b)", "team-a", False),
    ],
)
def test_operators_match_like_alertmanager(op: str, value: str, label: str, expected: bool) -> None:
    """Each operator decides as Alertmanager's; a regex must match the whole value."""
    assert Matcher.of("x", op, value).matches(label) is expected


def test_a_missing_label_is_the_empty_string() -> None:
    """`team=""` matches an alert without a team, and `team!=""` does not."""
    assert matches_all([Matcher.of("team", "=", "")], {"slo": "s"})
    assert not matches_all([Matcher.of("team", "!=", "")], {"slo": "s"})
    assert matches_all([Matcher.of("team", "=~", "|sre")], {})


def test_bad_matchers_are_refused_naming_the_problem() -> None:
    """A bad label name, operator or regex is an error that says which."""
    with pytest.raises(InvalidMatcherError, match="not a label name"):
        Matcher.of("1team", "=", "x")
    with pytest.raises(InvalidMatcherError, match="not one of"):
        Matcher.of("team", "==", "x")
    with pytest.raises(InvalidMatcherError, match="team=~'\\('"):
        Matcher.of("team", "=~", "(")


def test_fingerprints_depend_on_labels_not_their_order() -> None:
    """The same labels in another order give the same fingerprint; another value does not."""
    a = fingerprint({"slo": "s1", "tier": "1h"})
    assert a == fingerprint({"tier": "1h", "slo": "s1"})
    assert a != fingerprint({"slo": "s1", "tier": "6h"})
    assert a != fingerprint({"slo": "s1", "tier": "1h", "team": "x"})


def test_matchers_print_in_canonical_order() -> None:
    """Matchers print sorted and quoted, so route ids do not depend on their order."""
    matchers = [Matcher.of("tier", "=~", "1h|6h"), Matcher.of("severity", "=", 'pa"ge')]
    assert matchers_key(matchers) == '{severity="pa\\"ge",tier=~"1h|6h"}'
    assert matchers_key([]) == "{}"


def test_label_sets_drop_empty_values_and_check_names() -> None:
    """Empty values are dropped (Prometheus treats them as absent); bad names are refused."""
    assert check_labels({"team": "", "slo": "s"}) == {"slo": "s"}
    with pytest.raises(InvalidAlertingError):
        check_labels({"bad-name": "x"})
