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
    PorticoError,
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
