"""The security errors: one kernel category each, and a message a person can act on."""

from __future__ import annotations

from types import ModuleType

import pytest

from portico_common.errors import CATEGORIES, PorticoError
from portico_security.install import errors as install_errors
from portico_security.install.errors import (
    ApprovalNotAllowedError,
    DeclaredResourcesUnavailableError,
    InstallError,
    InstallQuotaExceededError,
    InstallRequestNotFoundError,
    InvalidInstallRequestError,
    InvalidPolicyError,
    PluginNotInstalledError,
    QuotaUnavailableError,
    RoleNotHeldError,
    SealedAuditReasonUnreadableError,
    SealedBodyUnreadableError,
)
from portico_security.trust import errors as trust_errors
from portico_security.trust.errors import (
    AdvisorySourceError,
    InvalidAdvisoryBatchError,
    InvalidAdvisoryError,
    InvalidTrustRequestError,
    InvalidTrustWeightsError,
    PlatformOnlyError,
    SignalSourceError,
    TrustError,
    TrustScoreNotFoundError,
)
from portico_security.verification import errors as verification_errors
from portico_security.verification.errors import (
    InvalidArtifactError,
    InvalidBundleRequestError,
    InvalidIntegrityError,
    InvalidPublicKeyError,
    InvalidPublisherKeyError,
    InvalidRegistryKeysError,
    InvalidRequestError,
    KeyAlreadyRegisteredError,
    KeyRotationError,
    MalformedAttestationsError,
    TrustConfigError,
    UnknownKeyError,
    UnsupportedKeyAlgorithmError,
    VerificationError,
    VerifierUnavailableError,
)

BASES: dict[ModuleType, type[PorticoError]] = {
    verification_errors: VerificationError,
    trust_errors: TrustError,
    install_errors: InstallError,
}
MAPPABLE = {
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "FAILED_PRECONDITION",
    "PERMISSION_DENIED",
    "UNAVAILABLE",
    "RESOURCE_EXHAUSTED",
}


def _subclasses() -> list[type[PorticoError]]:
    return [
        value
        for module, base in BASES.items()
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, base) and value is not base
    ]


@pytest.mark.parametrize("base", BASES.values(), ids=lambda t: t.__name__)
def test_each_context_has_one_base_without_a_code(base: type[PorticoError]) -> None:
    """A context's base error is a PorticoError that names no code of its own."""
    assert issubclass(base, PorticoError)
    assert "code" not in vars(base)
    assert not any(issubclass(base, category) for category in CATEGORIES)


@pytest.mark.parametrize("error_type", _subclasses(), ids=lambda t: t.__name__)
def test_every_error_has_its_base_and_one_category(error_type: type[PorticoError]) -> None:
    """Each error extends its context's base and exactly one kernel category, and takes the
    category's gRPC code instead of restating one."""
    own = [cls for cls in error_type.__mro__ if cls not in (*CATEGORIES, PorticoError)]
    assert len([base for base in BASES.values() if issubclass(error_type, base)]) == 1
    assert len([c for c in CATEGORIES if issubclass(error_type, c)]) == 1
    assert all("code" not in vars(cls) for cls in own)
    assert error_type.code in MAPPABLE


@pytest.mark.parametrize(
    ("error", "message", "code"),
    [
        (
            InvalidIntegrityError("sha1-x", "bad"),
            "invalid integrity 'sha1-x': bad",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidPublicKeyError("not PEM"),
            "invalid publisher public key: not PEM",
            "INVALID_ARGUMENT",
        ),
        (
            UnsupportedKeyAlgorithmError("rsa", ("ed25519",)),
            "unsupported key algorithm 'rsa'; supported: ed25519",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidPublisherKeyError("key_id", "empty"),
            "invalid publisher key key_id: empty",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidArtifactError("size", "negative"),
            "invalid artifact size: negative",
            "INVALID_ARGUMENT",
        ),
        (
            UnknownKeyError("acme", "k1"),
            "no publisher key 'k1' is registered for tenant 'acme'",
            "NOT_FOUND",
        ),
        (
            KeyAlreadyRegisteredError("acme", "k1"),
            "publisher key 'k1' is already registered for tenant 'acme' with a different key",
            "ALREADY_EXISTS",
        ),
        (
            KeyAlreadyRegisteredError("acme", "k1", "another publisher ('globex')"),
            (
                "publisher key 'k1' is already registered for tenant 'acme'"
                " with another publisher ('globex')"
            ),
            "ALREADY_EXISTS",
        ),
        (
            InvalidRequestError("plugin", "must not be empty"),
            "invalid request plugin: must not be empty",
            "INVALID_ARGUMENT",
        ),
        (
            KeyRotationError("k1", "it is revoked; register a new key instead"),
            "publisher key 'k1' cannot be rotated: it is revoked; register a new key instead",
            "FAILED_PRECONDITION",
        ),
        (
            InvalidRegistryKeysError("not JSON"),
            "invalid npm registry keys: not JSON",
            "INVALID_ARGUMENT",
        ),
        (
            MalformedAttestationsError("not JSON"),
            "malformed attestations: not JSON",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidBundleRequestError("bundle is not JSON"),
            "invalid bundle verification request: bundle is not JSON",
            "INVALID_ARGUMENT",
        ),
        (
            TrustConfigError("no root"),
            "unusable provenance trust configuration: no root",
            "FAILED_PRECONDITION",
        ),
        (
            VerifierUnavailableError("node", "not on PATH"),
            "node verifier unavailable: not on PATH",
            "UNAVAILABLE",
        ),
        (
            InvalidAdvisoryError("a.json", "$.id", "must be a string"),
            "a.json: $.id: must be a string",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidAdvisoryBatchError([InvalidAdvisoryError("a.json", "$", "not JSON")]),
            "1 invalid advisory document(s), nothing imported: a.json: $: not JSON",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidTrustWeightsError("all zero"),
            "invalid trust weights: all zero",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidTrustRequestError("weights", "missing"),
            "invalid request weights: missing",
            "INVALID_ARGUMENT",
        ),
        (
            TrustScoreNotFoundError("acme", "s1"),
            "no trust score 's1' for tenant 'acme'",
            "NOT_FOUND",
        ),
        (
            PlatformOnlyError("importing advisories"),
            "importing advisories needs a platform token",
            "PERMISSION_DENIED",
        ),
        (
            AdvisorySourceError("feed", "HTTP 500"),
            "advisory source feed: HTTP 500",
            "UNAVAILABLE",
        ),
        (
            SignalSourceError("left-pad", "not JSON"),
            "registry signals for 'left-pad': not JSON",
            "UNAVAILABLE",
        ),
        (
            InvalidPolicyError("min_trust_score", "must be within 0..100"),
            "invalid install policy min_trust_score: must be within 0..100",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidInstallRequestError("actor", "must not be empty"),
            "invalid request actor: must not be empty",
            "INVALID_ARGUMENT",
        ),
        (
            InstallRequestNotFoundError("r1"),
            "no install request 'r1'",
            "NOT_FOUND",
        ),
        (
            ApprovalNotAllowedError("the approval deadline has passed"),
            "approval refused: the approval deadline has passed",
            "FAILED_PRECONDITION",
        ),
        (
            RoleNotHeldError("mallory", "lead", ()),
            "approval refused: 'mallory' may not decide as 'lead': its token's roles are none",
            "PERMISSION_DENIED",
        ),
        (
            SealedBodyUnreadableError("r1"),
            (
                "install request r1 is sealed with the tenant's data key;"
                " set PORTICO_TENANCY_TARGET so security can get it from tenancy"
            ),
            "FAILED_PRECONDITION",
        ),
        (
            InstallQuotaExceededError("plugins: 1 wanted, 10 of 10 held"),
            "plugins: 1 wanted, 10 of 10 held",
            "RESOURCE_EXHAUSTED",
        ),
        (
            QuotaUnavailableError("tenancy could not reserve quota for install r1: UNAVAILABLE"),
            "tenancy could not reserve quota for install r1: UNAVAILABLE",
            "UNAVAILABLE",
        ),
        (
            DeclaredResourcesUnavailableError(
                "compat could not say what @acme/x@1.0.0 declared it needs: UNAVAILABLE: down"
            ),
            "compat could not say what @acme/x@1.0.0 declared it needs: UNAVAILABLE: down",
            "UNAVAILABLE",
        ),
        (
            PluginNotInstalledError("acme", "@acme/x"),
            "tenant 'acme' has no approved install of '@acme/x'",
            "NOT_FOUND",
        ),
        (
            SealedAuditReasonUnreadableError("acme", 7),
            (
                "audit record 7 of tenant acme has its reason sealed with the tenant's data key;"
                " set PORTICO_TENANCY_TARGET so security can get it from tenancy"
            ),
            "FAILED_PRECONDITION",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_error_message_and_code(error: PorticoError, message: str, code: str) -> None:
    """Each error renders its inputs into one precise sentence and carries its code."""
    assert str(error) == message
    assert error.code == code


def test_every_error_is_covered_by_a_message_test() -> None:
    """The message table above names every error class, so a new one cannot go untested."""
    covered = {
        InvalidIntegrityError,
        InvalidPublicKeyError,
        UnsupportedKeyAlgorithmError,
        InvalidPublisherKeyError,
        InvalidArtifactError,
        UnknownKeyError,
        KeyAlreadyRegisteredError,
        InvalidRequestError,
        KeyRotationError,
        InvalidRegistryKeysError,
        MalformedAttestationsError,
        InvalidBundleRequestError,
        TrustConfigError,
        VerifierUnavailableError,
        InvalidAdvisoryError,
        InvalidAdvisoryBatchError,
        InvalidTrustWeightsError,
        InvalidTrustRequestError,
        TrustScoreNotFoundError,
        PlatformOnlyError,
        AdvisorySourceError,
        SignalSourceError,
        InvalidPolicyError,
        InvalidInstallRequestError,
        InstallRequestNotFoundError,
        ApprovalNotAllowedError,
        RoleNotHeldError,
        SealedBodyUnreadableError,
        InstallQuotaExceededError,
        QuotaUnavailableError,
        DeclaredResourcesUnavailableError,
        PluginNotInstalledError,
        SealedAuditReasonUnreadableError,
    }
    assert set(_subclasses()) == covered
