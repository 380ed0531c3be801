"""Errors of the auth service; `code` names the gRPC status they map to."""

from __future__ import annotations

from portico_common.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    PermissionDeniedError,
    PorticoError,
    UnauthenticatedError,
)


class AuthError(PorticoError):
    """Base of auth errors."""

    code = "INTERNAL"


class InvalidTokenRequestError(AuthError, InvalidArgumentError):
    """A token request is malformed (tenant, scopes); nothing was issued."""

    code = "INVALID_ARGUMENT"


class InvalidClientCredentialsError(AuthError, UnauthenticatedError):
    """Unknown client or wrong secret; the message never says which."""

    code = "UNAUTHENTICATED"


class TenantNotAllowedError(AuthError, PermissionDeniedError):
    """The client may not act for the requested tenant."""

    code = "PERMISSION_DENIED"


class ScopeNotAllowedError(AuthError, PermissionDeniedError):
    """The client asked for scopes beyond the ones it is allowed."""

    code = "PERMISSION_DENIED"


class InvalidTokenError(AuthError, UnauthenticatedError):
    """A token failed verification; the message says why."""

    code = "UNAUTHENTICATED"


class InvalidClientError(AuthError):
    """A client registration breaks the rules (a configuration mistake)."""

    code = "INVALID_ARGUMENT"


class ClientExistsError(AuthError, AlreadyExistsError):
    """RegisterClient named a client id that is registered already."""

    code = "ALREADY_EXISTS"


class NotPlatformAdminError(AuthError, PermissionDeniedError):
    """Only the platform admin client, with a platform ("*") token, may do this."""

    code = "PERMISSION_DENIED"


class SigningKeyError(AuthError):
    """A stored signing key cannot be used (wrong key-encryption key, corrupt row)."""

    code = "INTERNAL"


class ConfigurationError(AuthError):
    """Settings the service cannot start with."""
