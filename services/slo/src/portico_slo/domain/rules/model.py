"""What generated rules are made of: rules, groups, the SLOs they are for, inhibit rules.

Every series the rules record carries the SLO's identity labels: `slo` (its
id), `slo_name`, and the scope it watches (`tenant`, `plugin`, `version`,
`rollout` where set), plus the labels it is grouped by. SLI error ratios add
`window`; tier burn rates and alerts add `tier`, `tier_rank` (1 for the
fastest tier) and `severity` (page or ticket), the labels slo's own alerting
routes, silences and inhibits on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from portico_slo.domain.objective import SloDefinition
from portico_slo.errors import InvalidRulesError

# The name of every tier alert unless the SLO names its own; slo's own
# alerting names its alerts so too, so one Alertmanager route serves both.
DEFAULT_ALERT_NAME = "SLOBurnRate"

SLO = "slo"
SLO_NAME = "slo_name"
TENANT = "tenant"
PLUGIN = "plugin"
VERSION = "version"
ROLLOUT = "rollout"
WINDOW = "window"
TIER = "tier"
TIER_RANK = "tier_rank"
SEVERITY = "severity"
# Labels the generator writes; an SLO can neither group by them nor route on them.
RESERVED = frozenset(
    {SLO, SLO_NAME, TENANT, PLUGIN, VERSION, ROLLOUT, WINDOW, TIER, TIER_RANK, SEVERITY}
)
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ALERT_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def is_label_name(name: str) -> bool:
    """Whether `name` is a Prometheus label name (letters, digits, _; not a digit first)."""
    return _LABEL_NAME.fullmatch(name) is not None and not name.startswith("__")


@dataclass(frozen=True, slots=True)
class Rule:
    """One recording rule (`record`) or alerting rule (`alert`)."""

    expr: str
    record: str = ""
    alert: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The rule as a rule file holds it, keys in Prometheus' documented order."""
        out: dict[str, Any] = {"record": self.record} if self.record else {"alert": self.alert}
        out["expr"] = self.expr
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """A rule group: its rules run in order at each evaluation, so later ones read earlier ones."""

    name: str
    rules: tuple[Rule, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rules": [r.as_dict() for r in self.rules]}


@dataclass(frozen=True, slots=True)
class RuleTarget:
    """An SLO to write rules for, and how: grouping, alert name, runbook, tenant label."""

    definition: SloDefinition
    # Labels the SLI's series keep (one error ratio per service, say); the
    # pull adapter sums over them, the rules judge each group on its own.
    group_by: tuple[str, ...] = ()
    alert_name: str = DEFAULT_ALERT_NAME
    runbook: str = ""
    # False leaves the tenant label out (rules for a Prometheus of one tenant).
    tenant_label: bool = True

    def __post_init__(self) -> None:
        for name in self.group_by:
            if not is_label_name(name):
                raise InvalidRulesError("group_by", f"{name!r} is not a label name")
            if name in RESERVED:
                raise InvalidRulesError(
                    "group_by", f"{name!r} is a label the rules write themselves"
                )
        if len(set(self.group_by)) != len(self.group_by):
            raise InvalidRulesError("group_by", f"labels repeat: {list(self.group_by)}")
        if not _ALERT_NAME.fullmatch(self.alert_name):
            raise InvalidRulesError("alert_name", f"{self.alert_name!r} is not a metric name")

    @property
    def identity(self) -> dict[str, str]:
        """The labels every recorded series of this SLO carries, empty ones left out."""
        d = self.definition
        labels = {
            TENANT: d.tenant_id if self.tenant_label else "",
            PLUGIN: d.plugin,
            VERSION: d.version,
            ROLLOUT: d.scope.rollout_id,
            SLO: d.slo_id,
            SLO_NAME: d.name,
        }
        return {k: v for k, v in labels.items() if v}

    @property
    def selector(self) -> dict[str, str]:
        """The labels that pick this SLO's series out of every SLO's: its id and tenant."""
        return {k: v for k, v in self.identity.items() if k in (SLO, TENANT)}

    @property
    def routing_labels(self) -> dict[str, str]:
        """The SLO's own labels (team, ...) that alerts carry: label names only, none reserved."""
        return {
            k: v
            for k, v in self.definition.labels
            if v and is_label_name(k) and k not in RESERVED and k not in self.group_by
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    """An SLO the rules leave out, and why."""

    slo_id: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """An Alertmanager inhibit rule: a firing faster tier mutes the slower ones of its SLO."""

    source_rank: int
    target_ranks: tuple[int, ...]
    equal: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The rule as Alertmanager's configuration spells it (matchers as strings)."""
        targets = "|".join(str(r) for r in self.target_ranks)
        op = "=~" if len(self.target_ranks) > 1 else "="
        return {
            "source_matchers": [f'{TIER_RANK}="{self.source_rank}"'],
            "target_matchers": [f'{TIER_RANK}{op}"{targets}"'],
            "equal": list(self.equal),
        }


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything generated for some SLOs: the rule groups, those left out, inhibit rules."""

    groups: tuple[RuleGroup, ...]
    skipped: tuple[Skipped, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The `groups:` of a Prometheus rule file."""
        return {"groups": [g.as_dict() for g in self.groups]}

    def alertmanager(self) -> dict[str, Any]:
        """The `inhibit_rules:` of an Alertmanager configuration."""
        return {"inhibit_rules": [r.as_dict() for r in self.inhibit_rules]}
