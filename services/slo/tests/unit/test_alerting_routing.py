"""The routing tree matches as Alertmanager's (`dispatch/route_test.go` TestRouteMatch)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico_slo.alerting.domain.labels import Matcher
from portico_slo.alerting.domain.routing import (
    DEFAULT_OPTIONS,
    RouteConfig,
    RouteOptions,
    compile_tree,
)
from portico_slo.alerting.errors import InvalidRouteError

RECEIVERS = [
    "notify-def",
    "notify-A",
    "notify-testing",
    "notify-productionA",
    "notify-productionB",
    "notify-BC",
]


def eq(name: str, value: str) -> Matcher:
    return Matcher.of(name, "=", value)


def re_(name: str, value: str) -> Matcher:
    return Matcher.of(name, "=~", value)


# Alertmanager's TestRouteMatch tree, written as RouteConfig.
TREE = RouteConfig(
    receiver="notify-def",
    routes=(
        RouteConfig(
            matchers=(eq("owner", "team-A"),),
            receiver="notify-A",
            routes=(
                RouteConfig(
                    matchers=(eq("env", "testing"),), receiver="notify-testing", group_by=("...",)
                ),
                RouteConfig(
                    matchers=(eq("env", "production"),),
                    receiver="notify-productionA",
                    group_wait=timedelta(minutes=1),
                    continue_matching=True,
                ),
                RouteConfig(
                    matchers=(re_("env", "produ.*"), re_("job", ".*")),
                    receiver="notify-productionB",
                    group_wait=timedelta(seconds=30),
                    group_interval=timedelta(minutes=5),
                    repeat_interval=timedelta(hours=1),
                    group_by=("job",),
                ),
            ),
        ),
        RouteConfig(
            matchers=(re_("owner", "team-(B|C)"),),
            group_by=("foo", "bar"),
            group_wait=timedelta(minutes=2),
            receiver="notify-BC",
        ),
        RouteConfig(
            matchers=(eq("group_by", "role"),),
            group_by=("role",),
            routes=(
                RouteConfig(
                    matchers=(eq("env", "testing"),),
                    receiver="notify-testing",
                    routes=(
                        RouteConfig(
                            matchers=(eq("wait", "long"),), group_wait=timedelta(minutes=2)
                        ),
                    ),
                ),
            ),
        ),
    ),
)


def opts(receiver: str, **changes: object) -> RouteOptions:
    values: dict[str, object] = {
        "receiver": receiver,
        "group_by": DEFAULT_OPTIONS.group_by,
        "group_by_all": False,
        "group_wait": DEFAULT_OPTIONS.group_wait,
        "group_interval": DEFAULT_OPTIONS.group_interval,
        "repeat_interval": DEFAULT_OPTIONS.repeat_interval,
    }
    values.update(changes)
    return RouteOptions(**values)  # type: ignore[arg-type]


CASES = [
    ({"owner": "team-A"}, [opts("notify-A")]),
    ({"owner": "team-A", "env": "unset"}, [opts("notify-A")]),
    (
        {"owner": "team-C"},
        [opts("notify-BC", group_by=("foo", "bar"), group_wait=timedelta(minutes=2))],
    ),
    ({"owner": "team-A", "env": "testing"}, [opts("notify-testing", group_by_all=True)]),
    (
        {"owner": "team-A", "env": "production"},
        [
            opts("notify-productionA", group_wait=timedelta(minutes=1)),
            opts(
                "notify-productionB",
                group_by=("job",),
                group_wait=timedelta(seconds=30),
                group_interval=timedelta(minutes=5),
                repeat_interval=timedelta(hours=1),
            ),
        ],
    ),
    ({"group_by": "role"}, [opts("notify-def", group_by=("role",))]),
    ({"env": "testing", "group_by": "role"}, [opts("notify-testing", group_by=("role",))]),
    (
        {"env": "testing", "group_by": "role", "wait": "long"},
        [opts("notify-testing", group_by=("role",), group_wait=timedelta(minutes=2))],
    ),
]


@pytest.mark.parametrize(("labels", "expected"), CASES)
def test_alertmanager_route_match_cases(
    labels: dict[str, str], expected: list[RouteOptions]
) -> None:
    """Alertmanager's TestRouteMatch inputs reach the same routes with the same options."""
    tree = compile_tree(TREE, RECEIVERS)
    assert [r.options for r in tree.match(labels)] == expected


def test_route_ids_name_the_path_and_tell_identical_siblings_apart() -> None:
    """Ids are the matchers path (Alertmanager's Key) plus the sibling index."""
    twins = RouteConfig(
        receiver="notify-def",
        routes=(
            RouteConfig(matchers=(eq("a", "1"),), receiver="notify-A", continue_matching=True),
            RouteConfig(matchers=(eq("a", "1"),), receiver="notify-BC"),
        ),
    )
    first, second = compile_tree(twins, RECEIVERS).match({"a": "1"})
    assert first.id == '{}/{a="1"}/0'
    assert second.id == '{}/{a="1"}/1'


def test_group_labels_follow_group_by() -> None:
    """A route groups by its group_by labels, or by every label with '...'."""
    tree = compile_tree(TREE, RECEIVERS)
    [bc] = tree.match({"owner": "team-B", "foo": "1", "x": "y"})
    assert bc.group_labels({"owner": "team-B", "foo": "1", "x": "y"}) == {"foo": "1"}
    [testing] = tree.match({"owner": "team-A", "env": "testing"})
    assert testing.group_labels({"owner": "team-A", "env": "testing"}) == {
        "owner": "team-A",
        "env": "testing",
    }


@pytest.mark.parametrize(
    ("root", "message"),
    [
        (RouteConfig(), "root route needs a receiver"),
        (RouteConfig(receiver="notify-def", matchers=(eq("a", "1"),)), "matches every alert"),
        (RouteConfig(receiver="notify-def", continue_matching=True), "cannot continue"),
        (RouteConfig(receiver="nobody"), "no channel named nobody"),
        (RouteConfig(receiver="notify-def", group_by=("...", "a")), "only entry"),
        (RouteConfig(receiver="notify-def", group_by=("a", "a")), "listed twice"),
        (RouteConfig(receiver="notify-def", group_interval=timedelta(0)), "cannot be zero"),
        (
            RouteConfig(
                receiver="notify-def",
                routes=(RouteConfig(repeat_interval=timedelta(0)),),
            ),
            r"route.routes\[0\].repeat_interval",
        ),
        (RouteConfig(receiver="notify-def", group_wait=timedelta(seconds=-1)), "negative"),
    ],
)
def test_trees_breaking_alertmanagers_rules_are_refused(root: RouteConfig, message: str) -> None:
    """A tree Alertmanager would refuse is refused, naming the route and the rule."""
    with pytest.raises(InvalidRouteError, match=message):
        compile_tree(root, RECEIVERS)


def test_group_wait_may_be_zero() -> None:
    """A zero group_wait is allowed (notify at once), unlike the two intervals."""
    tree = compile_tree(RouteConfig(receiver="notify-def", group_wait=timedelta(0)), RECEIVERS)
    assert tree.options.group_wait == timedelta(0)
