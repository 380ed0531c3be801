"""Errors of secure install, approvals and the audit trail (kept apart from errors.py,
which the verification work shares, so parallel edits do not collide)."""

from __future__ import annotations

from portico_security.errors import SecurityError


class InvalidPolicyError(SecurityError):
    """An install policy has a field out of range."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid install policy {field}: {problem}")
        self.field = field
        self.problem = problem


class ApprovalNotAllowedError(SecurityError):
    """An approval or rejection that cannot count (wrong role, closed, past its deadline)."""

    code = "FAILED_PRECONDITION"

    def __init__(self, problem: str) -> None:
        super().__init__(f"approval refused: {problem}")
        self.problem = problem


class RoleNotHeldError(SecurityError):
    """The caller's verified token does not carry the role it decides as."""

    code = "PERMISSION_DENIED"

    def __init__(self, subject: str, role: str, held: tuple[str, ...]) -> None:
        roles = ", ".join(held) if held else "none"
        super().__init__(
            f"approval refused: {subject!r} may not decide as {role!r}: its token's roles"
            f" are {roles}"
        )
        self.subject = subject
        self.role = role


class InstallRequestNotFoundError(SecurityError):
    code = "NOT_FOUND"

    def __init__(self, request_id: str) -> None:
        super().__init__(f"no install request {request_id!r}")
        self.request_id = request_id


class AuditImmutableError(SecurityError):
    """Something tried to change or remove an audit record."""

    code = "PERMISSION_DENIED"

    def __init__(self, problem: str) -> None:
        super().__init__(f"audit records are append-only: {problem}")
