"""Errors of secure install, approvals and the audit trail.

Each concrete error extends one of the kernel's categories, which names the
gRPC status an entrypoint maps it to.
"""

from __future__ import annotations

from portico_common.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PorticoError,
    ResourceExhaustedError,
    UnavailableError,
)


class InstallError(PorticoError):
    """Base of every install error."""


class InvalidPolicyError(InstallError, InvalidArgumentError):
    """An install policy has a field out of range."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid install policy {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidInstallRequestError(InstallError, InvalidArgumentError):
    """An install, approval or audit request lacks what it needs; nothing changed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid request {field}: {problem}")
        self.field = field
        self.problem = problem


class InstallRequestNotFoundError(InstallError, NotFoundError):
    """No install request with this id for the tenant."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"no install request {request_id!r}")
        self.request_id = request_id


class ApprovalNotAllowedError(InstallError, FailedPreconditionError):
    """An approval or rejection that cannot count (wrong role, closed, past its deadline)."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"approval refused: {problem}")
        self.problem = problem


class RoleNotHeldError(InstallError, PermissionDeniedError):
    """The caller's verified token does not carry the role it decides as."""

    def __init__(self, subject: str, role: str, held: tuple[str, ...]) -> None:
        roles = ", ".join(held) if held else "none"
        super().__init__(
            f"approval refused: {subject!r} may not decide as {role!r}: its token's roles"
            f" are {roles}"
        )
        self.subject = subject
        self.role = role


class SealedAuditReasonUnreadableError(InstallError, FailedPreconditionError):
    """An audit record's reason is sealed with the tenant's key, and no key source is
    configured."""

    def __init__(self, tenant_id: str, sequence: int) -> None:
        super().__init__(
            f"audit record {sequence} of tenant {tenant_id} has its reason sealed with the"
            " tenant's data key; set PORTICO_TENANCY_TARGET so security can get it from tenancy"
        )
        self.tenant_id = tenant_id
        self.sequence = sequence


class SealedBodyUnreadableError(InstallError, FailedPreconditionError):
    """A request's body is sealed with the tenant's key, and no key source is configured."""

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"install request {request_id} is sealed with the tenant's data key;"
            " set PORTICO_TENANCY_TARGET so security can get it from tenancy"
        )
        self.request_id = request_id


class InstallQuotaExceededError(InstallError, ResourceExhaustedError):
    """tenancy found no room in the tenant's quota for another plugin: nothing was verified."""


class QuotaUnavailableError(InstallError, UnavailableError):
    """tenancy could not be asked for room in the tenant's quota: the install waits for it."""


class DeclaredResourcesUnavailableError(InstallError, UnavailableError):
    """compat could not say what the version declared, so its quota hold cannot be sized."""


class PluginNotInstalledError(InstallError, NotFoundError):
    """Uninstall of a plugin the tenant has no approved install of."""

    def __init__(self, tenant_id: str, plugin: str) -> None:
        super().__init__(f"tenant {tenant_id!r} has no approved install of {plugin!r}")
        self.tenant_id = tenant_id
        self.plugin = plugin
