"""Errors the security service raises on purpose.

Each class names, in `code`, the gRPC status an entrypoint maps it to; the
domain never imports gRPC, so the code is a plain string. An artifact that
fails verification is not an error: that is a REJECTED report with reasons.
Errors are for input that cannot be processed at all.
"""

from __future__ import annotations

from portico_common.errors import PorticoError


class SecurityError(PorticoError):
    """Base of every security error."""

    code = "FAILED_PRECONDITION"


class InvalidIntegrityError(SecurityError):
    """A Subresource Integrity string is malformed or uses an algorithm we refuse."""

    code = "INVALID_ARGUMENT"

    def __init__(self, integrity: str, problem: str) -> None:
        shown = integrity if len(integrity) <= 120 else integrity[:117] + "..."
        super().__init__(f"invalid integrity {shown!r}: {problem}")
        self.integrity = integrity
        self.problem = problem


class InvalidPublicKeyError(SecurityError):
    """A publisher key is not an Ed25519 public key in PEM SubjectPublicKeyInfo form."""

    code = "INVALID_ARGUMENT"

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid publisher public key: {problem}")
        self.problem = problem


class UnsupportedKeyAlgorithmError(SecurityError):
    """A publisher key names a signature algorithm we do not verify."""

    code = "INVALID_ARGUMENT"

    def __init__(self, algorithm: str, supported: tuple[str, ...]) -> None:
        super().__init__(
            f"unsupported key algorithm {algorithm!r}; supported: {', '.join(supported)}"
        )
        self.algorithm = algorithm
        self.supported = supported


class InvalidPublisherKeyError(SecurityError):
    """A publisher key record has a missing or malformed field."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid publisher key {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPackageNameError(SecurityError):
    """A name breaks npm's package-name rules."""

    code = "INVALID_ARGUMENT"

    def __init__(self, name: str, problems: tuple[str, ...]) -> None:
        super().__init__(f"invalid npm package name {name!r}: {'; '.join(problems)}")
        self.name = name
        self.problems = problems


class InvalidVersionError(SecurityError):
    """A version is not an exact semantic version."""

    code = "INVALID_ARGUMENT"

    def __init__(self, version: str, problem: str) -> None:
        super().__init__(f"invalid version {version!r}: {problem}")
        self.version = version
        self.problem = problem


class InvalidArtifactError(SecurityError):
    """An artifact claim has a field that cannot be verified at all (e.g. a negative size)."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid artifact {field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownKeyError(SecurityError):
    """No publisher key with this id is registered for the tenant."""

    code = "NOT_FOUND"

    def __init__(self, tenant_id: str, key_id: str) -> None:
        super().__init__(f"no publisher key {key_id!r} is registered for tenant {tenant_id!r}")
        self.tenant_id = tenant_id
        self.key_id = key_id


class KeyAlreadyRegisteredError(SecurityError):
    """A key id is taken for this tenant by a different key; ids are never reused."""

    code = "ALREADY_EXISTS"

    def __init__(self, tenant_id: str, key_id: str, difference: str = "a different key") -> None:
        super().__init__(
            f"publisher key {key_id!r} is already registered for tenant {tenant_id!r} "
            f"with {difference}"
        )
        self.tenant_id = tenant_id
        self.key_id = key_id
        self.difference = difference


class InvalidRequestError(SecurityError):
    """A request lacks what it needs to be processed at all; nothing was stored or emitted."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid request {field}: {problem}")
        self.field = field
        self.problem = problem


class KeyRotationError(SecurityError):
    """A key cannot be rotated (revoked, expired, already replaced, or replaced by itself)."""

    code = "FAILED_PRECONDITION"

    def __init__(self, key_id: str, problem: str) -> None:
        super().__init__(f"publisher key {key_id!r} cannot be rotated: {problem}")
        self.key_id = key_id
        self.problem = problem


class InvalidRegistryKeysError(SecurityError):
    """An npm registry keys document (`/-/npm/v1/keys`) is malformed."""

    code = "INVALID_ARGUMENT"

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid npm registry keys: {problem}")
        self.problem = problem
