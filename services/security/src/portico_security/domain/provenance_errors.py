"""Errors of provenance verification: input that cannot be judged at all.

An attestation that does not verify is not an error (that is a REJECTED
report naming the attestation); these are for requests whose attestations
cannot even be read, and for a verifier that is not available.
"""

from __future__ import annotations

from portico_security.errors import SecurityError


class MalformedAttestationsError(SecurityError):
    """The attestations document is not npm's `{"attestations": [...]}` JSON."""

    code = "INVALID_ARGUMENT"

    def __init__(self, problem: str) -> None:
        super().__init__(f"malformed attestations: {problem}")
        self.problem = problem


class VerifierUnavailableError(SecurityError):
    """A Sigstore verifier cannot run here (e.g. Node.js or its packages are missing)."""

    code = "UNAVAILABLE"

    def __init__(self, verifier: str, problem: str) -> None:
        super().__init__(f"{verifier} verifier unavailable: {problem}")
        self.verifier = verifier
        self.problem = problem


class TrustConfigError(SecurityError):
    """The configured trusted root or managed keys cannot be used."""

    code = "FAILED_PRECONDITION"

    def __init__(self, problem: str) -> None:
        super().__init__(f"unusable provenance trust configuration: {problem}")
        self.problem = problem


class InvalidBundleRequestError(SecurityError):
    """A bundle verification request cannot be judged: bad bundle JSON, media type, key, root."""

    code = "INVALID_ARGUMENT"

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid bundle verification request: {problem}")
        self.problem = problem
