"""Errors of the shared kernel: the categories every Portico error belongs to.

A service's base error extends `PorticoError`; each concrete error also
extends one category, which carries `code`, the name of the gRPC status an
entrypoint maps it to. Services never restate `code`:

    class RolloutError(PorticoError): ...
    class RolloutNotFoundError(RolloutError, NotFoundError): ...
"""

from __future__ import annotations


class PorticoError(Exception):
    """Base of every error Portico raises on purpose; uncategorised ones are INTERNAL."""

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


class ConflictError(PorticoError):
    """A concurrent change won; the caller may retry with fresh state."""

    code = "ABORTED"


class ResourceExhaustedError(PorticoError):
    """A quota, a rate or a work budget is used up."""

    code = "RESOURCE_EXHAUSTED"


class UnavailableError(PorticoError):
    """A dependency cannot be reached now; the same request may succeed later."""

    code = "UNAVAILABLE"


class UnauthenticatedError(PorticoError):
    """No valid credentials."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(PorticoError):
    """Valid credentials that do not allow this request."""

    code = "PERMISSION_DENIED"


class InternalError(PorticoError):
    """A fault of ours (corrupt state, broken configuration): the caller sees only a trace id."""

    code = "INTERNAL"


class ConfigurationError(InternalError):
    """The process cannot start with its settings; the message says what to set."""


class IdempotencyConflictError(ConflictError):
    """The same idempotency key is in flight or was used for another request."""


class MigrationError(PorticoError):
    """A schema migration failed or the applied history was edited."""


class DatabaseSetupError(PorticoError):
    """The database is not set up for a service: its roles, schema or migrations."""


class EventError(PorticoError):
    """An event could not be encoded or decoded."""


class TlsConfigError(ConfigurationError):
    """TLS settings name a file that cannot be read, or half of a pair (a key without its cert)."""


# Every category a service error may extend, in the order they are documented.
CATEGORIES: tuple[type[PorticoError], ...] = (
    InvalidArgumentError,
    NotFoundError,
    AlreadyExistsError,
    FailedPreconditionError,
    ConflictError,
    ResourceExhaustedError,
    UnavailableError,
    UnauthenticatedError,
    PermissionDeniedError,
    InternalError,
)
