"""Errors of the shared kernel, and the base every service error can map from.

Service packages define their own `errors.py`; each error class carries a
`code` naming the gRPC status the entrypoint maps it to.
"""

from __future__ import annotations


class PorticoError(Exception):
    """Base of every error Portico raises on purpose."""

    code: str = "INTERNAL"


class InvalidArgumentError(PorticoError):
    """The request is malformed; nothing was changed."""

    code = "INVALID_ARGUMENT"


class NotFoundError(PorticoError):
    """The thing asked for does not exist (for this tenant)."""

    code = "NOT_FOUND"


class AlreadyExistsError(PorticoError):
    """The thing to create exists already."""

    code = "ALREADY_EXISTS"


class FailedPreconditionError(PorticoError):
    """The system is not in a state that allows the request."""

    code = "FAILED_PRECONDITION"


class UnauthenticatedError(PorticoError):
    """No valid credentials."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(PorticoError):
    """Valid credentials that do not allow this request."""

    code = "PERMISSION_DENIED"


class IdempotencyConflictError(PorticoError):
    """The same idempotency key is in flight or was used for another request."""

    code = "ABORTED"


class MigrationError(PorticoError):
    """A schema migration failed or the applied history was edited."""


class EventError(PorticoError):
    """An event could not be encoded or decoded."""
