"""Errors the tenancy service raises on purpose.

Each one is a TenancyError and belongs to one of the kernel's categories,
which names the gRPC status the interceptor maps it to. Malformed tenant ids
raise the kernel's InvalidTenantIdError.
"""

from __future__ import annotations

from portico_common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PorticoError,
    ResourceExhaustedError,
    UnavailableError,
)


class TenancyError(PorticoError):
    """Base of tenancy errors."""


class InvalidTenantError(TenancyError, InvalidArgumentError):
    """A tenant's fields (its display name) break the rules."""


class TenantExistsError(TenancyError, AlreadyExistsError):
    """A tenant with this id exists already."""


class TenantNotFoundError(TenancyError, NotFoundError):
    """No tenant with this id exists."""


class InvalidQuotaError(TenancyError, InvalidArgumentError):
    """A quota or usage figure is missing, negative or absurd."""


class QuotaNotFoundError(TenancyError, NotFoundError):
    """No quota was ever set for the tenant."""


class JobNotFoundError(TenancyError, NotFoundError):
    """No job with this id exists for the tenant."""


class JobStateError(TenancyError, FailedPreconditionError):
    """The job's state does not allow what was asked (cancel a running job, retry a done one)."""


class InvalidJobRequestError(TenancyError, InvalidArgumentError):
    """A job request is malformed: no job id, a page token that is not ours."""


class JobFailedError(TenancyError, InternalError):
    """A job's last attempt failed: the queue parks it as dead, with this error."""


class NamespaceTerminatingError(TenancyError, UnavailableError):
    """The cluster accepted a namespace's deletion and is still removing what it holds."""


class DataKeysShreddedError(TenancyError, FailedPreconditionError):
    """The tenant's data keys were destroyed: they cannot be rotated or re-created."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"the data keys of tenant {tenant_id} were destroyed (crypto-shredded)")
        self.tenant_id = tenant_id


class DataKeysNotFoundError(TenancyError, NotFoundError):
    """The tenant has no data keys yet (they are made on a service's first request)."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id} has no data keys yet")
        self.tenant_id = tenant_id


class NotAServiceError(TenancyError, PermissionDeniedError):
    """Unwrapped data keys go to Portico services only, whatever else the caller may do."""

    def __init__(self) -> None:
        super().__init__("data keys are handed to Portico service identities only (role 'service')")


class NoKmsConfiguredError(TenancyError, FailedPreconditionError):
    """tenancy runs without a KMS, so it has no data keys to give."""

    def __init__(self) -> None:
        super().__init__(
            "tenancy has no KMS configured: set PORTICO_TENANCY_KMS (local or vault-transit)"
            " and its settings"
        )


class TenantStateError(TenancyError, FailedPreconditionError):
    """The tenant's state does not allow the move (resume an active tenant, restore too late)."""


class InvalidReportError(TenancyError, InvalidArgumentError):
    """A data-deletion report names no service, one not in the saga, or another's."""


class InvalidReservationError(TenancyError, InvalidArgumentError):
    """A reservation's id, kind or amounts are missing, negative or absurd."""


class QuotaExceededError(TenancyError, ResourceExhaustedError):
    """The claim does not fit the tenant's quota next to what its reservations hold."""


class UsageIsDerivedError(TenancyError, FailedPreconditionError):
    """Usage is derived from install and rollout events; nobody reports it."""
