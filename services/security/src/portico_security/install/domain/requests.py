"""An install request: the evidence, the policy's decision, the approval, the history.

The aggregate the use cases load and save. Every transition appends a
history entry; nothing in the history is ever rewritten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from portico_security.install.domain.approvals import Approval, ApprovalState, Step
from portico_security.install.domain.policy import AdvisoryFinding, Outcome, PolicyDecision


class InstallStatus(StrEnum):
    REJECTED = "REJECTED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    EXPIRED = "EXPIRED"
    # An approved install the tenant removed again.
    UNINSTALLED = "UNINSTALLED"


@dataclass(frozen=True, slots=True)
class TrustFactor:
    """One factor of the trust score, 0..100, and the evidence behind it."""

    name: str
    score: int
    weight: int
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TrustBreakdown:
    score: int
    factors: tuple[TrustFactor, ...]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    kind: str
    actor: str
    detail: str


@dataclass(frozen=True, slots=True)
class ReviewNote:
    """A reviewer's private note on a request: for the reviewers only.

    Unlike a vote's comment it is never quoted in the history, the reasons,
    the events or the audit trail; it lives only in the request's sealed body.
    """

    at: datetime
    author: str
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class InstallRequest:
    request_id: str
    tenant_id: str
    plugin: str
    version: str
    verification_id: str
    publisher: str
    trust: TrustBreakdown
    advisories: tuple[AdvisoryFinding, ...]
    status: InstallStatus
    reasons: tuple[str, ...]
    evidence_digest: str
    requested_by: str
    created_at: datetime
    approval: Approval | None
    history: tuple[HistoryEntry, ...]
    # Passed on to rollout with plugin.install.approved (empty / 0: rollout's defaults).
    rollout_phases: tuple[int, ...] = ()
    rollout_bake_seconds: int = 0
    private_notes: tuple[ReviewNote, ...] = ()

    @property
    def subject(self) -> str:
        """What the request is about, as events and audit records name it: `plugin@version`."""
        return f"{self.plugin}@{self.version}"

    @classmethod
    def decided(
        cls,
        *,
        request_id: str,
        tenant_id: str,
        plugin: str,
        version: str,
        verification_id: str,
        publisher: str,
        trust: TrustBreakdown,
        advisories: tuple[AdvisoryFinding, ...],
        decision: PolicyDecision,
        approval: Approval | None,
        requested_by: str,
        now: datetime,
        rollout_phases: tuple[int, ...] = (),
        rollout_bake_seconds: int = 0,
    ) -> InstallRequest:
        status = {
            Outcome.REJECTED: InstallStatus.REJECTED,
            Outcome.APPROVAL_REQUIRED: InstallStatus.PENDING_APPROVAL,
            Outcome.APPROVED: InstallStatus.APPROVED,
        }[decision.outcome]
        digest = evidence_digest(
            {
                "plugin": plugin,
                "version": version,
                "verification_id": verification_id,
                "publisher": publisher,
                "trust": trust_to_json(trust),
                "advisories": [advisory_to_json(a) for a in advisories],
                "decision": decision.outcome.value,
                "reasons": list(decision.reasons),
            }
        )
        history = (
            HistoryEntry(now, "requested", requested_by, f"{plugin}@{version}"),
            HistoryEntry(
                now, decision.outcome.value.lower(), "policy", "; ".join(decision.reasons)
            ),
        )
        return cls(
            request_id=request_id,
            tenant_id=tenant_id,
            plugin=plugin,
            version=version,
            verification_id=verification_id,
            publisher=publisher,
            trust=trust,
            advisories=advisories,
            status=status,
            reasons=decision.reasons,
            evidence_digest=digest,
            requested_by=requested_by,
            created_at=now,
            approval=approval,
            history=history,
            rollout_phases=rollout_phases,
            rollout_bake_seconds=rollout_bake_seconds,
        )

    def after(
        self, approval: Approval, step: Step, actor: str, detail: str, now: datetime
    ) -> InstallRequest:
        """The request once the approval workflow took `step`."""
        status = {
            ApprovalState.PENDING: InstallStatus.PENDING_APPROVAL,
            ApprovalState.APPROVED: InstallStatus.APPROVED,
            ApprovalState.REJECTED: InstallStatus.REJECTED,
            ApprovalState.EXPIRED: InstallStatus.EXPIRED,
        }[approval.state]
        entry = HistoryEntry(now, step.value.lower(), actor, detail)
        reasons = self.reasons
        if status is InstallStatus.REJECTED:
            reasons = (*reasons, f"{_rejected_by(actor)}: {detail}")
        elif status is InstallStatus.EXPIRED:
            reasons = (*reasons, "the approval deadline passed")
        return replace(
            self, approval=approval, status=status, reasons=reasons, history=(*self.history, entry)
        )

    def uninstalled(self, actor: str, reason: str, now: datetime) -> InstallRequest:
        """The approved request once the tenant removed the plugin it installed."""
        if self.status is not InstallStatus.APPROVED:
            raise ValueError(f"install request {self.request_id} is {self.status}, not APPROVED")
        entry = HistoryEntry(now, "uninstalled", actor, reason)
        return replace(self, status=InstallStatus.UNINSTALLED, history=(*self.history, entry))

    def announced_reasons(self) -> tuple[str, ...]:
        """The reasons an event may carry: an approver's rejection names the approver but
        not the comment it quotes (comments stay in the sealed body and audit trail)."""
        approval = self.approval
        if (
            self.status is InstallStatus.REJECTED
            and approval is not None
            and approval.state is ApprovalState.REJECTED
        ):
            # `after` appended the approver's rejection, quoting the comment, last.
            return (*self.reasons[:-1], _rejected_by(self.history[-1].actor))
        return self.reasons

    def noted(self, note: ReviewNote) -> InstallRequest:
        """The request with a reviewer's private note added."""
        return replace(self, private_notes=(*self.private_notes, note))


def _rejected_by(actor: str) -> str:
    return f"rejected by {actor}"


def evidence_digest(evidence: dict[str, Any]) -> str:
    """sha256 over canonical JSON: the same evidence always gives the same digest."""
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def trust_to_json(trust: TrustBreakdown) -> dict[str, Any]:
    return {
        "score": trust.score,
        "factors": [
            {"name": f.name, "score": f.score, "weight": f.weight, "evidence": list(f.evidence)}
            for f in trust.factors
        ],
    }


def trust_from_json(data: dict[str, Any]) -> TrustBreakdown:
    return TrustBreakdown(
        score=int(data["score"]),
        factors=tuple(
            TrustFactor(
                name=str(f["name"]),
                score=int(f["score"]),
                weight=int(f["weight"]),
                evidence=tuple(str(e) for e in f["evidence"]),
            )
            for f in data["factors"]
        ),
    )


def advisory_to_json(advisory: AdvisoryFinding) -> dict[str, Any]:
    return {
        "advisory_id": advisory.advisory_id,
        "severity": advisory.severity.value,
        "package": advisory.package,
        "summary": advisory.summary,
        "fixed_versions": list(advisory.fixed_versions),
    }
