"""The security errors: a gRPC-mappable code each, and a message a person can act on."""

from __future__ import annotations

import pytest

from portico_common.errors import PorticoError
from portico_security import errors
from portico_security.errors import (
    InvalidArtifactError,
    InvalidIntegrityError,
    InvalidPackageNameError,
    InvalidPublicKeyError,
    InvalidPublisherKeyError,
    InvalidRegistryKeysError,
    InvalidRequestError,
    InvalidVersionError,
    KeyAlreadyRegisteredError,
    KeyRotationError,
    SecurityError,
    UnknownKeyError,
    UnsupportedKeyAlgorithmError,
)

MAPPABLE = {
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "FAILED_PRECONDITION",
    "PERMISSION_DENIED",
}


def _subclasses() -> list[type[SecurityError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, SecurityError)
        and value is not SecurityError
    ]


@pytest.mark.parametrize("error_type", _subclasses(), ids=lambda t: t.__name__)
def test_every_error_has_a_mappable_code(error_type: type[SecurityError]) -> None:
    """Each security error declares one of the gRPC codes the entrypoint maps."""
    assert error_type.code in MAPPABLE
    assert issubclass(error_type, PorticoError)


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
            InvalidPackageNameError("A", ("x", "y")),
            "invalid npm package name 'A': x; y",
            "INVALID_ARGUMENT",
        ),
        (InvalidVersionError("1", "short"), "invalid version '1': short", "INVALID_ARGUMENT"),
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
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_error_message_and_code(error: SecurityError, message: str, code: str) -> None:
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
        InvalidPackageNameError,
        InvalidVersionError,
        InvalidArtifactError,
        UnknownKeyError,
        KeyAlreadyRegisteredError,
        InvalidRequestError,
        KeyRotationError,
        InvalidRegistryKeysError,
    }
    assert set(_subclasses()) == covered
