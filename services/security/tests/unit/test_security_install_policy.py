"""Install policy decisions: reject with every reason, approval on low trust, else approve."""

from __future__ import annotations

import pytest

from portico_security.install.domain.policy import (
    AdvisoryFinding,
    ApprovalRule,
    DeadlineAction,
    InstallEvidence,
    InstallPolicy,
    Outcome,
    Severity,
    decide,
    policy_from_json,
    policy_to_json,
)
from portico_security.install.errors import InvalidPolicyError


def evidence(**overrides: object) -> InstallEvidence:
    fields: dict[str, object] = {
        "verified": True,
        "verification_reasons": (),
        "publisher": "acme",
        "size": 1000,
        "has_provenance": True,
        "trust_score": 90,
        "advisories": (),
    }
    fields.update(overrides)
    return InstallEvidence(**fields)  # type: ignore[arg-type]


def test_trusted_verified_artifact_is_approved() -> None:
    """A verified artifact scoring at or above the approval threshold is approved by policy."""
    decision = decide(InstallPolicy("acme", approval_below_score=90), evidence(trust_score=90))
    assert decision.outcome is Outcome.APPROVED


def test_low_trust_requires_approval() -> None:
    """A score between the minimum and the approval threshold asks for approvers."""
    decision = decide(
        InstallPolicy("acme", min_trust_score=20, approval_below_score=70),
        evidence(trust_score=60),
    )
    assert decision.outcome is Outcome.APPROVAL_REQUIRED
    assert "60" in decision.reasons[0]


def test_rejection_lists_every_reason() -> None:
    """All hard failures are reported at once, not one per attempt."""
    policy = InstallPolicy(
        "acme",
        min_trust_score=50,
        require_provenance=True,
        allowed_publishers=("globex",),
        blocked_severities=(Severity.HIGH, Severity.CRITICAL),
        max_artifact_bytes=10,
    )
    decision = decide(
        policy,
        evidence(
            verified=False,
            verification_reasons=("signature does not match",),
            size=11,
            has_provenance=False,
            trust_score=10,
            advisories=(AdvisoryFinding("GHSA-1", Severity.HIGH, "left-pad"),),
        ),
    )
    assert decision.outcome is Outcome.REJECTED
    joined = "\n".join(decision.reasons)
    for fragment in (
        "signature does not match",
        "11 bytes",
        "publisher acme is not allowed",
        "provenance",
        "GHSA-1",
        "below the minimum 50",
    ):
        assert fragment in joined


def test_unblocked_advisory_severity_does_not_reject() -> None:
    """An advisory whose severity the policy does not block leaves the decision to trust."""
    decision = decide(
        InstallPolicy("acme", blocked_severities=(Severity.CRITICAL,), approval_below_score=0),
        evidence(advisories=(AdvisoryFinding("GHSA-2", Severity.LOW, "x"),)),
    )
    assert decision.outcome is Outcome.APPROVED


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_trust_score", 101), ("approval_below_score", -1), ("max_artifact_bytes", 0)],
)
def test_out_of_range_policy_is_refused(field: str, value: int) -> None:
    """A policy with a value out of range cannot be built."""
    with pytest.raises(InvalidPolicyError):
        InstallPolicy("acme", **{field: value})  # type: ignore[arg-type]


def test_approval_threshold_below_minimum_is_refused() -> None:
    """An approval threshold below the rejection minimum would make approval unreachable."""
    with pytest.raises(InvalidPolicyError):
        InstallPolicy("acme", min_trust_score=50, approval_below_score=40)


def test_escalation_without_roles_is_refused() -> None:
    """Escalating needs someone to escalate to."""
    with pytest.raises(InvalidPolicyError):
        ApprovalRule(on_deadline=DeadlineAction.ESCALATE, escalation_roles=())


def test_policy_json_round_trip() -> None:
    """A stored policy reads back equal."""
    policy = InstallPolicy(
        "acme",
        min_trust_score=10,
        approval_below_score=80,
        require_provenance=True,
        allowed_publishers=("acme",),
        blocked_severities=(Severity.UNKNOWN,),
        approval=ApprovalRule(
            required=2, roles=("sec", "lead"), on_deadline=DeadlineAction.ESCALATE
        ),
    )
    assert policy_from_json("acme", policy_to_json(policy)) == policy
