"""Prometheus rules generated from SLO definitions, Sloth-style (see `generate`)."""

from __future__ import annotations

from portico_slo.domain.rules.generate import generate, rule_group
from portico_slo.domain.rules.model import (
    DEFAULT_ALERT_NAME,
    InhibitRule,
    Rule,
    RuleGroup,
    RuleSet,
    RuleTarget,
    Skipped,
)

__all__ = [
    "DEFAULT_ALERT_NAME",
    "InhibitRule",
    "Rule",
    "RuleGroup",
    "RuleSet",
    "RuleTarget",
    "Skipped",
    "generate",
    "rule_group",
]
