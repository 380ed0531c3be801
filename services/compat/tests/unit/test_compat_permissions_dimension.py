"""The permissions dimension: requested permissions against the tenant's policy."""

from __future__ import annotations

import pytest

from portico_compat.domain.permissions import (
    Decision,
    PermissionBaseline,
    PermissionPolicy,
    PermissionRule,
    check_permissions,
)
from portico_compat.domain.report import Verdict
from portico_compat.errors import (
    InvalidPermissionPolicyError,
)

POLICY = PermissionPolicy(
    "acme",
    (
        PermissionRule("catalog.*", Decision.ALLOW),
        PermissionRule("catalog.entity.delete", Decision.DENY),
        PermissionRule("scaffolder.*", Decision.NEEDS_APPROVAL),
    ),
    Decision.DENY,
)


def verdicts(findings: tuple[object, ...]) -> list[tuple[str, Verdict]]:
    return [(f.name, f.outcome) for f in findings]  # type: ignore[attr-defined]


def test_permissions_are_decided_by_the_most_specific_rule() -> None:
    """An exact rule beats a prefix, a prefix beats the default."""
    report = check_permissions(
        POLICY,
        ["catalog.entity.read", "catalog.entity.delete", "scaffolder.task.create", "kube.exec"],
    )

    assert verdicts(report.findings) == [
        ("catalog.entity.delete", Verdict.FAIL),
        ("catalog.entity.read", Verdict.PASS),
        ("kube.exec", Verdict.FAIL),
        ("scaffolder.task.create", Verdict.NEEDS_APPROVAL),
    ]
    assert report.findings[0].reason == "deny by rule 'catalog.entity.delete'"
    assert report.findings[2].reason == "deny by the policy's default"
    assert report.verdict is Verdict.FAIL


def test_without_a_policy_every_permission_needs_approval() -> None:
    """No policy allows nothing by omission: each permission needs an approval."""
    report = check_permissions(None, ["catalog.entity.read"])

    assert report.verdict is Verdict.NEEDS_APPROVAL
    assert report.findings[0].reason == "needs approval by no permission policy is recorded"


def test_new_permissions_on_upgrade_are_escalations_needing_approval() -> None:
    """A permission the installed version did not request needs approval even if allowed."""
    baseline = PermissionBaseline("2.2.0", frozenset({"catalog.entity.read"}))

    report = check_permissions(POLICY, ["catalog.entity.read", "catalog.location.create"], baseline)

    assert verdicts(report.findings) == [
        ("catalog.entity.read", Verdict.PASS),
        ("catalog.location.create", Verdict.NEEDS_APPROVAL),
    ]
    assert report.findings[1].reason == (
        "allow by rule 'catalog.*'; escalation: installed 2.2.0 did not request this one"
    )


def test_denied_escalation_stays_denied() -> None:
    """An escalation never softens a deny into an approval."""
    baseline = PermissionBaseline("2.2.0", frozenset())

    report = check_permissions(POLICY, ["catalog.entity.delete"], baseline)

    assert report.findings[0].outcome is Verdict.FAIL


def test_upgrade_from_a_version_never_checked_treats_every_permission_as_new() -> None:
    """Without a baseline check every requested permission is an escalation (fail safe)."""
    report = check_permissions(POLICY, ["catalog.entity.read"], PermissionBaseline("2.2.0", None))

    assert report.findings[0].outcome is Verdict.NEEDS_APPROVAL
    assert "no check of installed 2.2.0 is recorded" in report.findings[0].reason


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ((PermissionRule("", Decision.ALLOW),), "a pattern is empty"),
        ((PermissionRule("a b", Decision.ALLOW),), "contains whitespace"),
        ((PermissionRule("a", Decision.ALLOW), PermissionRule("a", Decision.DENY)), "two rules"),
    ],
)
def test_malformed_policies_are_refused(rules: tuple[PermissionRule, ...], message: str) -> None:
    """A policy with an empty, spaced or duplicated pattern is InvalidPermissionPolicyError."""
    with pytest.raises(InvalidPermissionPolicyError, match=message):
        PermissionPolicy("acme", rules)


def test_a_lone_wildcard_rule_matches_everything() -> None:
    """`*` is a valid pattern: the tenant's own catch-all."""
    policy = PermissionPolicy("acme", (PermissionRule("*", Decision.ALLOW),), Decision.DENY)

    assert policy.decide("anything.at.all") == (Decision.ALLOW, "rule '*'")
