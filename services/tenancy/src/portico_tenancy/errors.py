"""Errors of the tenancy service; `code` names the gRPC status they map to."""

from __future__ import annotations

from portico_common.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError


class TenancyError(Exception):
    """Base of tenancy errors."""

    code = "INTERNAL"


class InvalidTenantError(TenancyError, InvalidArgumentError):
    """A tenant id or name breaks the rules."""

    code = "INVALID_ARGUMENT"


class TenantExistsError(TenancyError, AlreadyExistsError):
    code = "ALREADY_EXISTS"


class TenantNotFoundError(TenancyError, NotFoundError):
    code = "NOT_FOUND"


class InvalidQuotaError(TenancyError, InvalidArgumentError):
    """A quota or usage figure is missing, negative or absurd."""

    code = "INVALID_ARGUMENT"


class QuotaNotFoundError(TenancyError, NotFoundError):
    """No quota was ever set for the tenant."""

    code = "NOT_FOUND"
