"""Domain events of secure install: each step of a request's life is announced.

`plugin.install.approved` hands the install over to rollout; the others let
portals and auditors follow a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallEvent:
    """Fields every install event carries."""

    tenant_id: str
    request_id: str
    plugin: str
    version: str


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallRequested(InstallEvent):
    """Someone asked for the install; the evidence was gathered and judged."""

    requested_by: str
    trust_score: int
    verification_id: str
    evidence_digest: str


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallApprovalRequired(InstallEvent):
    """The policy wants approvers before the install, by the deadline."""

    required: int
    roles: tuple[str, ...]
    deadline: datetime
    reasons: tuple[str, ...]
    trust_score: int


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallApprovalRecorded(InstallEvent):
    """One approver approved or rejected; `approvals` distinct approvers so far of `required`.

    Only whether the approver commented: the comment is sensitive and stays in
    the request's sealed body and the sealed audit trail.
    """

    approver: str
    role: str
    approve: bool
    has_comment: bool
    approvals: int
    required: int


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallApproved(InstallEvent):
    """The install may proceed: rollout requests the canary."""

    # "policy" when no approval was needed, else the approver whose vote completed it.
    approved_by: str
    approvers: tuple[str, ...]
    reason: str
    trust_score: int
    verification_id: str
    rollout_phases: tuple[int, ...]
    rollout_bake_seconds: int


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallRejected(InstallEvent):
    """The policy or an approver refused the install.

    `reasons` are the policy's, or "rejected by <approver>" without the comment.
    """

    reasons: tuple[str, ...]
    rejected_by: str


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallExpired(InstallEvent):
    """The approval deadline passed without enough approvals."""


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallUninstalled(InstallEvent):
    """The tenant removed the plugin this approved request installed."""

    uninstalled_by: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class InstallEscalated(InstallEvent):
    """The deadline passed; other roles now decide, until the new deadline."""

    roles: tuple[str, ...]
    deadline: datetime
