"""The approval workflow of one install request: the kernel's N-of-M model, install's errors.

`portico_common.approvals` holds the state machine (rollout's approval gates
use it too); an install's refused vote is an install error.
"""

from __future__ import annotations

from typing import ClassVar

from portico_common import approvals
from portico_common.approvals import ApprovalState, Step, Vote
from portico_security.install.errors import ApprovalNotAllowedError

__all__ = ["Approval", "ApprovalState", "Step", "Vote"]


class Approval(approvals.Approval):
    """An install request's approval; a vote that cannot count raises ApprovalNotAllowedError."""

    refusal: ClassVar[type[ApprovalNotAllowedError]] = ApprovalNotAllowedError
