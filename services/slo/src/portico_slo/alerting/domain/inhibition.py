"""Inhibition, with Alertmanager's rules (`inhibit/inhibit.go`).

A rule mutes an alert that matches its target matchers while a firing
alert matches its source matchers and has the same values for every label
in `equal`. An alert that matches both sides is never inhibited by another
alert that also matches both sides, so a rule cannot make two alerts mute
each other. Silenced alerts still inhibit: silencing a page does not
release the tickets it stands for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.labels import LabelSet, Matcher, check_label_name, matches_all
from portico_slo.alerting.errors import InvalidRouteError


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """Source alerts that fire mute target alerts with the same `equal` labels."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.source_matchers:
            raise InvalidRouteError("inhibit_rules.source_matchers", "name the source alerts")
        if not self.target_matchers:
            raise InvalidRouteError("inhibit_rules.target_matchers", "name the target alerts")
        for name in self.equal:
            check_label_name(name, "inhibit_rules.equal")


# A page inhibits the ticket of the same SLO: one problem, one notification.
PAGE_INHIBITS_TICKET = InhibitRule(
    source_matchers=(Matcher.of("severity", "=", "page"),),
    target_matchers=(Matcher.of("severity", "=", "ticket"),),
    equal=("tenant", "slo"),
)


class Inhibitor:
    """Answers `mutes(labels)` against the firing alerts of one tenant at one instant."""

    def __init__(
        self, rules: Sequence[InhibitRule], alerts: Iterable[Alert], now: datetime
    ) -> None:
        self._rules = tuple(rules)
        self._now = now
        self._firing = [a for a in alerts if not a.resolved_at(now)]

    def mutes(self, labels: LabelSet) -> bool:
        """Whether some rule inhibits an alert with `labels`."""
        return any(self._inhibits(rule, labels) for rule in self._rules)

    def _inhibits(self, rule: InhibitRule, labels: LabelSet) -> bool:
        if not matches_all(rule.target_matchers, labels):
            return False
        two_sided = matches_all(rule.source_matchers, labels)
        for source in self._firing:
            if not matches_all(rule.source_matchers, source.labels):
                continue
            if any(source.labels.get(n, "") != labels.get(n, "") for n in rule.equal):
                continue
            if two_sided and matches_all(rule.target_matchers, source.labels):
                continue
            return True
        return False
