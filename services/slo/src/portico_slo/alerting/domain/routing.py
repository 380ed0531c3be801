"""A tenant's routing tree, with Alertmanager's semantics (`dispatch/route.go`).

Each route has matchers and options; a child inherits every option it does
not set from its parent (the root from `DEFAULT_OPTIONS`). An alert is
matched depth first, left to right: a route that matches hands the alert to
its first matching child, or to the next siblings too when that child has
`continue`; a matching route none of whose children match takes the alert
itself. The root matches every alert.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from portico_slo.alerting.domain.labels import (
    LabelSet,
    Matcher,
    check_label_name,
    matchers_key,
    matches_all,
)
from portico_slo.alerting.errors import InvalidRouteError

GROUP_BY_ALL = "..."
MAX_ROUTES = 200
MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class RouteOptions:
    """What a matched route decides: receiver, grouping and the three timers."""

    receiver: str
    group_by: tuple[str, ...]
    group_by_all: bool
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta


# Alertmanager's defaults for the root route.
DEFAULT_OPTIONS = RouteOptions(
    receiver="",
    group_by=(),
    group_by_all=False,
    group_wait=timedelta(seconds=30),
    group_interval=timedelta(minutes=5),
    repeat_interval=timedelta(hours=4),
)


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """One route as configured; unset options (None, "") are inherited."""

    receiver: str = ""
    matchers: tuple[Matcher, ...] = ()
    # None inherits; ("...",) groups by every label.
    group_by: tuple[str, ...] | None = None
    group_wait: timedelta | None = None
    group_interval: timedelta | None = None
    repeat_interval: timedelta | None = None
    continue_matching: bool = False
    routes: tuple[RouteConfig, ...] = ()

    def walk(self) -> Iterator[RouteConfig]:
        """This route and every route below it, depth first."""
        yield self
        for child in self.routes:
            yield from child.walk()

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.routes), default=0)


@dataclass(frozen=True, slots=True)
class Route:
    """A route of the compiled tree, its options merged with its ancestors'."""

    options: RouteOptions
    matchers: tuple[Matcher, ...]
    continue_matching: bool
    # Alertmanager's `Route.ID`: the parent's id, this route's matchers and its
    # index among its siblings. Unique in the tree, so it names the route in
    # group keys (two siblings may have the same matchers).
    id: str
    routes: tuple[Route, ...] = field(default=())

    def match(self, labels: LabelSet) -> list[Route]:
        """The routes an alert with `labels` goes to (Alertmanager's `Route.Match`)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found += matched
            if matched and not child.continue_matching:
                break
        return found or [self]

    def group_labels(self, labels: LabelSet) -> dict[str, str]:
        """The labels an alert is grouped by on this route (`getGroupLabels`)."""
        if self.options.group_by_all:
            return dict(labels)
        return {k: v for k, v in labels.items() if k in self.options.group_by}

    def receivers(self) -> set[str]:
        """Every receiver this route and its children name."""
        found = {self.options.receiver}
        for child in self.routes:
            found |= child.receivers()
        return found


def _merge(parent: RouteOptions, config: RouteConfig) -> RouteOptions:
    group_by, group_by_all = parent.group_by, parent.group_by_all
    if config.group_by is not None:
        group_by_all = config.group_by == (GROUP_BY_ALL,)
        group_by = () if group_by_all else tuple(config.group_by)
    return RouteOptions(
        receiver=config.receiver or parent.receiver,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=parent.group_wait if config.group_wait is None else config.group_wait,
        group_interval=(
            parent.group_interval if config.group_interval is None else config.group_interval
        ),
        repeat_interval=(
            parent.repeat_interval if config.repeat_interval is None else config.repeat_interval
        ),
    )


def _compile(config: RouteConfig, parent: RouteOptions, route_id: str) -> Route:
    options = _merge(parent, config)
    return Route(
        options=options,
        matchers=tuple(config.matchers),
        continue_matching=config.continue_matching,
        id=route_id,
        routes=tuple(
            _compile(child, options, f"{route_id}/{matchers_key(child.matchers)}/{index}")
            for index, child in enumerate(config.routes)
        ),
    )


def _check_route(config: RouteConfig, path: str) -> None:
    if config.group_by is not None:
        if GROUP_BY_ALL in config.group_by and len(config.group_by) > 1:
            raise InvalidRouteError(f"{path}.group_by", "'...' must be the only entry")
        seen: set[str] = set()
        for name in config.group_by:
            if name == GROUP_BY_ALL:
                continue
            check_label_name(name, f"{path}.group_by")
            if name in seen:
                raise InvalidRouteError(f"{path}.group_by", f"label {name!r} is listed twice")
            seen.add(name)
    for name, value in (
        ("group_wait", config.group_wait),
        ("group_interval", config.group_interval),
        ("repeat_interval", config.repeat_interval),
    ):
        if value is None:
            continue
        if value < timedelta(0):
            raise InvalidRouteError(f"{path}.{name}", "must not be negative")
        if name != "group_wait" and value == timedelta(0):
            raise InvalidRouteError(f"{path}.{name}", "cannot be zero")
    for index, child in enumerate(config.routes):
        _check_route(child, f"{path}.routes[{index}]")


def compile_tree(root: RouteConfig, receivers: Collection[str]) -> Route:
    """The checked, compiled tree; `receivers` are the channel names that exist.

    The rules are Alertmanager's: the root names a receiver, has no matchers
    and no `continue`; '...' stands alone in group_by; group_interval and
    repeat_interval are not zero; every receiver named exists.
    """
    if not root.receiver:
        raise InvalidRouteError("route.receiver", "the root route needs a receiver")
    if root.matchers:
        raise InvalidRouteError("route.matchers", "the root route matches every alert")
    if root.continue_matching:
        raise InvalidRouteError("route.continue", "the root route cannot continue")
    routes = list(root.walk())
    if len(routes) > MAX_ROUTES:
        raise InvalidRouteError("route", f"{len(routes)} routes; at most {MAX_ROUTES}")
    if root.depth() > MAX_DEPTH:
        raise InvalidRouteError("route", f"nested deeper than {MAX_DEPTH} levels")
    _check_route(root, "route")
    tree = _compile(root, DEFAULT_OPTIONS, matchers_key(root.matchers))
    unknown = sorted(tree.receivers() - set(receivers))
    if unknown:
        raise InvalidRouteError("route.receiver", f"no channel named {', '.join(unknown)}")
    return tree
