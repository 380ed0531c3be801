"""The permissions dimension: what a plugin asks for against the tenant's policy.

A policy is a list of rules (an exact permission name, or a prefix ending in
`*`) with a decision each, and a default for permissions no rule matches. The
most specific rule wins: an exact name over any prefix, a longer prefix over a
shorter one. A tenant without a policy, or a policy without a default, needs
an approval for every permission: nothing is allowed by omission.

On an upgrade, every permission the installed version did not request is an
escalation: it needs an approval even where the policy would allow it (a
denied one stays denied). The installed version's permissions come from its
last recorded check in this tenant; when there is none, every requested
permission counts as new, failing safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from portico_compat.domain.compatibility import (
    Dimension,
    DimensionReport,
    Finding,
    dimension_report,
)
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.errors import InvalidPermissionPolicyError, InvalidPluginError

MAX_PERMISSION_LENGTH = 200
MAX_RULES = 2000
MAX_REQUESTED = 500
WILDCARD = "*"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    NEEDS_APPROVAL = "needs_approval"


_VERDICTS = {
    Decision.ALLOW: Verdict.PASS,
    Decision.DENY: Verdict.FAIL,
    Decision.NEEDS_APPROVAL: Verdict.NEEDS_APPROVAL,
}


def permission_problem(name: str) -> str | None:
    """Why `name` cannot name a permission (e.g. "catalog.entity.read"), or None."""
    if not name:
        return "a permission name is empty"
    if any(c.isspace() for c in name):
        return f"permission {name[:80]!r} contains whitespace"
    if len(name) > MAX_PERMISSION_LENGTH:
        return f"permission {name[:80]!r}... is longer than {MAX_PERMISSION_LENGTH} characters"
    if WILDCARD in name:
        return f"permission {name[:80]!r} contains '*'; a plugin requests exact permissions"
    return None


def validate_requested(permissions: Sequence[str]) -> None:
    """Raise InvalidPluginError for malformed, duplicated or too many permissions."""
    if len(permissions) > MAX_REQUESTED:
        raise InvalidPluginError(
            "permissions", f"{len(permissions)} requested; at most {MAX_REQUESTED}"
        )
    seen: set[str] = set()
    for name in permissions:
        problem = permission_problem(name)
        if problem is not None:
            raise InvalidPluginError("permissions", problem)
        if name in seen:
            raise InvalidPluginError("permissions", f"{name!r} is requested twice")
        seen.add(name)


@dataclass(frozen=True, slots=True)
class PermissionRule:
    pattern: str
    decision: Decision

    def matches(self, permission: str) -> bool:
        if self.pattern.endswith(WILDCARD):
            return permission.startswith(self.pattern[:-1])
        return permission == self.pattern

    @property
    def specificity(self) -> tuple[bool, int]:
        return (not self.pattern.endswith(WILDCARD), len(self.pattern))


@dataclass(frozen=True, slots=True)
class PermissionPolicy:
    """A tenant's permission policy; validated on construction."""

    tenant_id: str
    rules: tuple[PermissionRule, ...] = ()
    default: Decision = Decision.NEEDS_APPROVAL

    def __post_init__(self) -> None:
        if len(self.rules) > MAX_RULES:
            raise InvalidPermissionPolicyError("rules", f"{len(self.rules)}; at most {MAX_RULES}")
        seen: set[str] = set()
        for rule in self.rules:
            body = rule.pattern.removesuffix(WILDCARD)
            problem = permission_problem(body) if body else None
            if problem is not None or (not body and rule.pattern != WILDCARD):
                raise InvalidPermissionPolicyError("rules", problem or "a pattern is empty")
            if rule.pattern in seen:
                raise InvalidPermissionPolicyError("rules", f"{rule.pattern!r} has two rules")
            seen.add(rule.pattern)

    def decide(self, permission: str) -> tuple[Decision, str]:
        """The decision for `permission` and the rule (or default) that made it."""
        matching = [rule for rule in self.rules if rule.matches(permission)]
        if not matching:
            return self.default, "the policy's default"
        rule = max(matching, key=lambda r: r.specificity)
        return rule.decision, f"rule {rule.pattern!r}"


@dataclass(frozen=True, slots=True)
class PermissionBaseline:
    """The permissions of the installed version (None when no check of it is recorded)."""

    version: str
    permissions: frozenset[str] | None


def check_permissions(
    policy: PermissionPolicy | None,
    requested: Sequence[str],
    baseline: PermissionBaseline | None = None,
) -> DimensionReport:
    """The permissions dimension of a report (see the module docstring)."""
    findings = []
    for permission in sorted(requested):
        if policy is None:
            decision, why = Decision.NEEDS_APPROVAL, "no permission policy is recorded"
        else:
            decision, why = policy.decide(permission)
        verdict = _VERDICTS[decision]
        reason = f"{decision.value.replace('_', ' ')} by {why}"
        escalation = baseline is not None and (
            baseline.permissions is None or permission not in baseline.permissions
        )
        if escalation and baseline is not None:
            version = baseline.version
            reason += (
                f"; escalation: no check of installed {version} is recorded,"
                " so every permission counts as new"
                if baseline.permissions is None
                else f"; escalation: installed {version} did not request this one"
            )
            verdict = max(verdict, Verdict.NEEDS_APPROVAL)
        findings.append(
            Finding(
                Dimension.PERMISSIONS,
                permission,
                "",
                decision.value,
                satisfied=verdict is Verdict.PASS,
                reason=reason,
                verdict=verdict,
            )
        )
    return dimension_report(ReportDimension.PERMISSIONS, findings, empty="no permissions requested")
