"""Errors of the auth service.

Each error a request can cause extends `AuthError` and one kernel category,
which names the gRPC status it maps to. The two faults of the deployment
itself (settings it cannot start with, stored keys it cannot read) are
InternalErrors: the interceptor answers them as INTERNAL with a trace id and
without their detail, since no caller can fix them.
"""

from __future__ import annotations

import math

from portico_common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PorticoError,
    ResourceExhaustedError,
    UnauthenticatedError,
)
from portico_common.errors import ConfigurationError as KernelConfigurationError


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


class UnknownRoleError(AuthError, InvalidArgumentError):
    """A request names roles the role table does not define."""

    def __init__(self, roles: list[str]) -> None:
        super().__init__(f"unknown roles {roles}: the role table defines no such role")
        self.roles = roles


class GrantNotAllowedError(AuthError, PermissionDeniedError):
    """The caller would give a client more than it holds itself (tenants or roles)."""


class ClientNotFoundError(AuthError, NotFoundError):
    """No such client, or not one the caller's tenant may see."""


class ProtectedClientError(AuthError, FailedPreconditionError):
    """The platform admin client is managed by auth's settings, not through the API."""


class ClientMetadataUnsealableError(AuthError, FailedPreconditionError):
    """Client metadata is stored only sealed with the tenant's data key, and auth has no
    tenancy to get keys from."""

    def __init__(self, client_id: str) -> None:
        super().__init__(
            f"the metadata of client {client_id!r} is sealed with its tenant's data key;"
            " set PORTICO_TENANCY_TARGET so auth can get it from tenancy"
        )
        self.client_id = client_id


class ClientDisabledError(AuthError, PermissionDeniedError):
    """A client whose secret is right but which is disabled gets no token.

    PERMISSION_DENIED rather than UNAUTHENTICATED: the caller proved who it
    is (only then is the flag revealed), so other credentials would not help.
    """


class TooManyAttemptsError(AuthError, ResourceExhaustedError):
    """Token requests over a rate limit, or a client locked out after bad secrets.

    `retry_after_seconds` is when the same request may succeed; the kernel's
    interceptor sends it as a google.rpc.RetryInfo detail.
    """

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after_seconds))
        super().__init__(f"{message}; retry after {self.retry_after_seconds} s")


class SigningKeyError(AuthError, InternalError):
    """A stored signing key cannot be used (wrong key-encryption key, corrupt row)."""


class ConfigurationError(AuthError, KernelConfigurationError):
    """Settings the service cannot start with."""
