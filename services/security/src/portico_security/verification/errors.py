"""Errors of verification: input that cannot be judged at all.

An artifact that fails verification is not an error: that is a REJECTED
report with reasons, and an attestation that does not verify is a REJECTED
provenance report. Errors are for input that cannot be processed at all, and
for a verifier that is not available. Each concrete error extends one of the
kernel's categories, which names the gRPC status an entrypoint maps it to.
"""

from __future__ import annotations

from portico_common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PorticoError,
    UnavailableError,
)


class VerificationError(PorticoError):
    """Base of every verification error."""


class InvalidIntegrityError(VerificationError, InvalidArgumentError):
    """A Subresource Integrity string is malformed or uses an algorithm we refuse."""

    def __init__(self, integrity: str, problem: str) -> None:
        shown = integrity if len(integrity) <= 120 else integrity[:117] + "..."
        super().__init__(f"invalid integrity {shown!r}: {problem}")
        self.integrity = integrity
        self.problem = problem


class InvalidPublicKeyError(VerificationError, InvalidArgumentError):
    """A publisher key is not a public key of its algorithm in PEM SubjectPublicKeyInfo form."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid publisher public key: {problem}")
        self.problem = problem


class UnsupportedKeyAlgorithmError(VerificationError, InvalidArgumentError):
    """A publisher key names a signature algorithm we do not verify."""

    def __init__(self, algorithm: str, supported: tuple[str, ...]) -> None:
        super().__init__(
            f"unsupported key algorithm {algorithm!r}; supported: {', '.join(supported)}"
        )
        self.algorithm = algorithm
        self.supported = supported


class InvalidPublisherKeyError(VerificationError, InvalidArgumentError):
    """A publisher key record has a missing or malformed field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid publisher key {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidArtifactError(VerificationError, InvalidArgumentError):
    """An artifact claim has a field that cannot be verified at all (e.g. a negative size)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid artifact {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidRequestError(VerificationError, InvalidArgumentError):
    """A request lacks what it needs to be processed at all; nothing was stored or emitted."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid request {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidRegistryKeysError(VerificationError, InvalidArgumentError):
    """An npm registry keys document (`/-/npm/v1/keys`) is malformed."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid npm registry keys: {problem}")
        self.problem = problem


class MalformedAttestationsError(VerificationError, InvalidArgumentError):
    """The attestations document is not npm's `{"attestations": [...]}` JSON."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"malformed attestations: {problem}")
        self.problem = problem


class InvalidBundleRequestError(VerificationError, InvalidArgumentError):
    """A bundle verification request cannot be judged: bad bundle JSON, media type, key, root."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid bundle verification request: {problem}")
        self.problem = problem


class UnknownKeyError(VerificationError, NotFoundError):
    """No publisher key with this id is registered for the tenant."""

    def __init__(self, tenant_id: str, key_id: str) -> None:
        super().__init__(f"no publisher key {key_id!r} is registered for tenant {tenant_id!r}")
        self.tenant_id = tenant_id
        self.key_id = key_id


class KeyAlreadyRegisteredError(VerificationError, AlreadyExistsError):
    """A key id is taken for this tenant by a different key; ids are never reused."""

    def __init__(self, tenant_id: str, key_id: str, difference: str = "a different key") -> None:
        super().__init__(
            f"publisher key {key_id!r} is already registered for tenant {tenant_id!r} "
            f"with {difference}"
        )
        self.tenant_id = tenant_id
        self.key_id = key_id
        self.difference = difference


class KeyRotationError(VerificationError, FailedPreconditionError):
    """A key cannot be rotated (revoked, expired, already replaced, or replaced by itself)."""

    def __init__(self, key_id: str, problem: str) -> None:
        super().__init__(f"publisher key {key_id!r} cannot be rotated: {problem}")
        self.key_id = key_id
        self.problem = problem


class TrustConfigError(VerificationError, FailedPreconditionError):
    """The configured trusted root or managed keys cannot be used."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"unusable provenance trust configuration: {problem}")
        self.problem = problem


class VerifierUnavailableError(VerificationError, UnavailableError):
    """A Sigstore verifier cannot run here (e.g. Node.js or its packages are missing)."""

    def __init__(self, verifier: str, problem: str) -> None:
        super().__init__(f"{verifier} verifier unavailable: {problem}")
        self.verifier = verifier
        self.problem = problem
