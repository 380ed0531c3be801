"""A tenant's install policy and the decision it gives on one plugin version.

Pure: the use case gathers the evidence (verification report, trust score,
advisories, size, publisher) and this module says reject, require approval
or approve, with every reason at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from portico_common import approvals
from portico_common.approvals import DeadlineAction
from portico_security.install.errors import InvalidPolicyError

MIB = 1024 * 1024


class Severity(StrEnum):
    """Advisory severity labels, as the advisory matcher reports them from CVSS."""

    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"
    # The advisory gives no usable CVSS vector.
    UNKNOWN = "UNKNOWN"


class Outcome(StrEnum):
    """The policy's answer for one install request."""

    REJECTED = "REJECTED"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    APPROVED = "APPROVED"


@dataclass(frozen=True)
class ApprovalRule(approvals.ApprovalRule):
    """The kernel's approval rule, with install defaults; a bad rule is a bad install policy."""

    roles: tuple[str, ...] = ("security-reviewer",)
    escalation_roles: tuple[str, ...] = ("platform-admin",)

    invalid_rule: ClassVar[approvals.RuleErrorFactory] = InvalidPolicyError


@dataclass(frozen=True, slots=True)
class InstallPolicy:
    """What a tenant accepts. The default is the one used until a tenant sets its own."""

    tenant_id: str
    # Below this score an install is rejected outright.
    min_trust_score: int = 0
    # Below this score (and at or above the minimum) an install needs approval.
    approval_below_score: int = 70
    require_provenance: bool = False
    # Empty means any publisher whose key the tenant registered.
    allowed_publishers: tuple[str, ...] = ()
    blocked_severities: tuple[Severity, ...] = (Severity.CRITICAL,)
    max_artifact_bytes: int = 50 * MIB
    approval: ApprovalRule = field(default_factory=ApprovalRule)

    def __post_init__(self) -> None:
        for name, value in (
            ("min_trust_score", self.min_trust_score),
            ("approval_below_score", self.approval_below_score),
        ):
            if not 0 <= value <= 100:
                raise InvalidPolicyError(name, f"must be within 0..100, got {value}")
        if self.approval_below_score < self.min_trust_score:
            raise InvalidPolicyError("approval_below_score", "must not be below min_trust_score")
        if self.max_artifact_bytes < 1:
            raise InvalidPolicyError("max_artifact_bytes", "must be at least 1")


@dataclass(frozen=True, slots=True)
class AdvisoryFinding:
    """An advisory that affects the plugin version (or one of its dependencies)."""

    advisory_id: str
    severity: Severity
    package: str
    summary: str = ""
    fixed_versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InstallEvidence:
    """Everything the policy judges, gathered by the use case."""

    verified: bool
    verification_reasons: tuple[str, ...]
    publisher: str
    size: int
    has_provenance: bool
    trust_score: int
    advisories: tuple[AdvisoryFinding, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    outcome: Outcome
    reasons: tuple[str, ...]


def decide(policy: InstallPolicy, evidence: InstallEvidence) -> PolicyDecision:
    """Reject on any hard failure, else ask for approval on low trust, else approve."""
    rejections: list[str] = []
    if not evidence.verified:
        reasons = evidence.verification_reasons or ("no reason given",)
        rejections.extend(f"verification failed: {r}" for r in reasons)
    if evidence.size > policy.max_artifact_bytes:
        rejections.append(
            f"artifact is {evidence.size} bytes; the policy allows {policy.max_artifact_bytes}"
        )
    if policy.allowed_publishers and evidence.publisher not in policy.allowed_publishers:
        shown = evidence.publisher or "(unknown)"
        rejections.append(
            f"publisher {shown} is not allowed (allowed: {', '.join(policy.allowed_publishers)})"
        )
    if policy.require_provenance and not evidence.has_provenance:
        rejections.append("the policy requires verified provenance and none was verified")
    rejections.extend(
        f"advisory {a.advisory_id} ({a.severity.value}) affects {a.package}: severity is blocked"
        for a in evidence.advisories
        if a.severity in policy.blocked_severities
    )
    if evidence.trust_score < policy.min_trust_score:
        rejections.append(
            f"trust score {evidence.trust_score} is below the minimum {policy.min_trust_score}"
        )
    if rejections:
        return PolicyDecision(Outcome.REJECTED, tuple(rejections))
    if evidence.trust_score < policy.approval_below_score:
        return PolicyDecision(
            Outcome.APPROVAL_REQUIRED,
            (
                (
                    f"trust score {evidence.trust_score} is below {policy.approval_below_score}: "
                    f"{policy.approval.required} approval(s) by "
                    f"{', '.join(policy.approval.roles)} needed"
                ),
            ),
        )
    return PolicyDecision(
        Outcome.APPROVED,
        (f"trust score {evidence.trust_score} meets {policy.approval_below_score}",),
    )


def policy_to_json(policy: InstallPolicy) -> dict[str, Any]:
    """The policy as plain JSON (stored, and hashed into the audit record of a change)."""
    return {
        "min_trust_score": policy.min_trust_score,
        "approval_below_score": policy.approval_below_score,
        "require_provenance": policy.require_provenance,
        "allowed_publishers": list(policy.allowed_publishers),
        "blocked_severities": [s.value for s in policy.blocked_severities],
        "max_artifact_bytes": policy.max_artifact_bytes,
        "approval": rule_to_json(policy.approval),
    }


def rule_to_json(rule: approvals.ApprovalRule) -> dict[str, Any]:
    return {
        "required": rule.required,
        "roles": list(rule.roles),
        "timeout_seconds": rule.timeout_seconds,
        "on_deadline": rule.on_deadline.value,
        "escalation_roles": list(rule.escalation_roles),
    }


def rule_from_json(rule: dict[str, Any]) -> ApprovalRule:
    return ApprovalRule(
        required=int(rule["required"]),
        roles=tuple(str(r) for r in rule["roles"]),
        timeout_seconds=int(rule["timeout_seconds"]),
        on_deadline=DeadlineAction(rule["on_deadline"]),
        escalation_roles=tuple(str(r) for r in rule["escalation_roles"]),
    )


def policy_from_json(tenant_id: str, data: dict[str, Any]) -> InstallPolicy:
    return InstallPolicy(
        tenant_id=tenant_id,
        min_trust_score=int(data["min_trust_score"]),
        approval_below_score=int(data["approval_below_score"]),
        require_provenance=bool(data["require_provenance"]),
        allowed_publishers=tuple(str(p) for p in data["allowed_publishers"]),
        blocked_severities=tuple(Severity(s) for s in data["blocked_severities"]),
        max_artifact_bytes=int(data["max_artifact_bytes"]),
        approval=rule_from_json(data["approval"]),
    )
