"""JSON form of an install request, as the PostgreSQL adapter stores it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portico_security.install.domain.approvals import Approval, ApprovalState, Vote
from portico_security.install.domain.policy import (
    AdvisoryFinding,
    Severity,
    rule_from_json,
    rule_to_json,
)
from portico_security.install.domain.requests import (
    HistoryEntry,
    InstallRequest,
    InstallStatus,
    ReviewNote,
    advisory_to_json,
    trust_from_json,
    trust_to_json,
)


def request_to_json(request: InstallRequest) -> dict[str, Any]:
    return {
        "verification_id": request.verification_id,
        "publisher": request.publisher,
        "trust": trust_to_json(request.trust),
        "advisories": [advisory_to_json(a) for a in request.advisories],
        "reasons": list(request.reasons),
        "evidence_digest": request.evidence_digest,
        "requested_by": request.requested_by,
        "created_at": request.created_at.isoformat(),
        "approval": approval_to_json(request.approval) if request.approval else None,
        "history": [
            {"at": h.at.isoformat(), "kind": h.kind, "actor": h.actor, "detail": h.detail}
            for h in request.history
        ],
        "rollout_phases": list(request.rollout_phases),
        "rollout_bake_seconds": request.rollout_bake_seconds,
        "private_notes": [
            {"at": n.at.isoformat(), "author": n.author, "role": n.role, "text": n.text}
            for n in request.private_notes
        ],
    }


def request_from_json(
    *, request_id: str, tenant_id: str, plugin: str, version: str, status: str, body: dict[str, Any]
) -> InstallRequest:
    approval = body["approval"]
    return InstallRequest(
        request_id=request_id,
        tenant_id=tenant_id,
        plugin=plugin,
        version=version,
        verification_id=str(body["verification_id"]),
        publisher=str(body["publisher"]),
        trust=trust_from_json(body["trust"]),
        advisories=tuple(
            AdvisoryFinding(
                advisory_id=str(a["advisory_id"]),
                severity=Severity(a["severity"]),
                package=str(a["package"]),
                summary=str(a["summary"]),
                fixed_versions=tuple(str(v) for v in a["fixed_versions"]),
            )
            for a in body["advisories"]
        ),
        status=InstallStatus(status),
        reasons=tuple(str(r) for r in body["reasons"]),
        evidence_digest=str(body["evidence_digest"]),
        requested_by=str(body["requested_by"]),
        created_at=datetime.fromisoformat(body["created_at"]),
        approval=approval_from_json(approval) if approval else None,
        history=tuple(
            HistoryEntry(
                at=datetime.fromisoformat(h["at"]),
                kind=str(h["kind"]),
                actor=str(h["actor"]),
                detail=str(h["detail"]),
            )
            for h in body["history"]
        ),
        rollout_phases=tuple(int(p) for p in body["rollout_phases"]),
        rollout_bake_seconds=int(body["rollout_bake_seconds"]),
        # Bodies written before private notes existed have none.
        private_notes=tuple(
            ReviewNote(
                at=datetime.fromisoformat(n["at"]),
                author=str(n["author"]),
                role=str(n["role"]),
                text=str(n["text"]),
            )
            for n in body.get("private_notes", ())
        ),
    )


def approval_to_json(approval: Approval) -> dict[str, Any]:
    return {
        "rule": rule_to_json(approval.rule),
        "deadline": approval.deadline.isoformat(),
        "state": approval.state.value,
        "escalated": approval.escalated,
        "votes": [
            {
                "approver": v.approver,
                "role": v.role,
                "approve": v.approve,
                "comment": v.comment,
                "at": v.at.isoformat(),
            }
            for v in approval.votes
        ],
    }


def approval_from_json(data: dict[str, Any]) -> Approval:
    return Approval(
        rule=rule_from_json(data["rule"]),
        deadline=datetime.fromisoformat(data["deadline"]),
        state=ApprovalState(data["state"]),
        escalated=bool(data["escalated"]),
        votes=tuple(
            Vote(
                approver=str(v["approver"]),
                role=str(v["role"]),
                approve=bool(v["approve"]),
                comment=str(v["comment"]),
                at=datetime.fromisoformat(v["at"]),
            )
            for v in data["votes"]
        ),
    )
