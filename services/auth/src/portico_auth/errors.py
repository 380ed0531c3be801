"""Errors of the auth service.

Each error a request can cause extends `AuthError` and one kernel category,
which names the gRPC status it maps to. The two faults of the deployment
itself (settings it cannot start with, stored keys it cannot read) are
InternalErrors: the interceptor answers them as INTERNAL with a trace id and
without their detail, since no caller can fix them.
"""

from __future__ import annotations

from portico_common.errors import (
    AlreadyExistsError,
    InternalError,
    InvalidArgumentError,
    PermissionDeniedError,
    PorticoError,
    UnauthenticatedError,
)


class AuthError(PorticoError):
    """Base of auth errors."""


class InvalidTokenRequestError(AuthError, InvalidArgumentError):
    """A token request is malformed (tenant, scopes); nothing was issued."""


class InvalidClientCredentialsError(AuthError, UnauthenticatedError):
    """Unknown client or wrong secret; the message never says which."""


class TenantNotAllowedError(AuthError, PermissionDeniedError):
    """The client may not act for the requested tenant."""


class ScopeNotAllowedError(AuthError, PermissionDeniedError):
    """The client asked for scopes beyond the ones it is allowed."""


class InvalidTokenError(AuthError, UnauthenticatedError):
    """A token failed verification; the message says why."""


class InvalidClientError(AuthError, InvalidArgumentError):
    """A client registration breaks the rules (a configuration mistake)."""


class ClientExistsError(AuthError, AlreadyExistsError):
    """RegisterClient named a client id that is registered already."""


class NotPlatformAdminError(AuthError, PermissionDeniedError):
    """Only the platform admin client, with a platform ("*") token, may do this."""


class SigningKeyError(AuthError, InternalError):
    """A stored signing key cannot be used (wrong key-encryption key, corrupt row)."""


class ConfigurationError(AuthError, InternalError):
    """Settings the service cannot start with."""
