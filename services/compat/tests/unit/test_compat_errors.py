"""The compat errors: a gRPC-mappable code each, and a message a person can act on."""

from __future__ import annotations

import pytest

from portico_common.errors import PorticoError
from portico_compat import errors
from portico_compat.errors import (
    CompatError,
    InvalidApiCatalogError,
    InvalidHostProfileError,
    InvalidPermissionPolicyError,
    InvalidPluginError,
    InvalidRangeError,
    InvalidReleaseManifestError,
    InvalidTenantError,
    InvalidVersionError,
    UnknownHostProfileError,
)

MAPPABLE = {
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "FAILED_PRECONDITION",
    "PERMISSION_DENIED",
}


def _subclasses() -> list[type[CompatError]]:
    found = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, CompatError) and value is not CompatError
    ]
    assert found
    return found


@pytest.mark.parametrize("error_type", _subclasses(), ids=lambda t: t.__name__)
def test_every_error_has_a_mappable_code(error_type: type[CompatError]) -> None:
    """Each compat error declares one of the gRPC codes the entrypoint maps."""
    assert error_type.code in MAPPABLE
    assert issubclass(error_type, PorticoError)


@pytest.mark.parametrize(
    ("error", "message", "code"),
    [
        (
            InvalidVersionError("2.x", "not a version"),
            "invalid version '2.x': not a version",
            "INVALID_ARGUMENT",
        ),
        (InvalidRangeError(">>1", "bad"), "invalid version range '>>1': bad", "INVALID_ARGUMENT"),
        (
            InvalidHostProfileError("node_version", "empty"),
            "invalid host profile node_version: empty",
            "INVALID_ARGUMENT",
        ),
        (InvalidPluginError("name", "empty"), "invalid plugin name: empty", "INVALID_ARGUMENT"),
        (
            InvalidApiCatalogError("apis", "'x' is listed twice"),
            "invalid host API catalog apis: 'x' is listed twice",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidReleaseManifestError("packages", "empty"),
            "invalid release manifest packages: empty",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidPermissionPolicyError("rules", "empty"),
            "invalid permission policy rules: empty",
            "INVALID_ARGUMENT",
        ),
        (
            InvalidTenantError("*"),
            (
                "invalid tenant_id '*': must be 2-63 characters of a-z, 0-9 and '-',"
                " starting and ending with a letter or digit"
            ),
            "INVALID_ARGUMENT",
        ),
        (
            UnknownHostProfileError("acme"),
            (
                "no host profile is recorded for tenant 'acme';"
                " set one with SetHostProfile before checking plugins"
            ),
            "FAILED_PRECONDITION",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_error_message_and_code(error: CompatError, message: str, code: str) -> None:
    """Each error renders its inputs into one precise sentence and carries its code."""
    assert str(error) == message
    assert error.code == code


def test_every_error_is_covered_by_a_message_test() -> None:
    """The message table above names every error class, so a new one cannot go untested."""
    covered = {
        InvalidVersionError,
        InvalidRangeError,
        InvalidHostProfileError,
        InvalidPluginError,
        InvalidTenantError,
        UnknownHostProfileError,
        InvalidApiCatalogError,
        InvalidReleaseManifestError,
        InvalidPermissionPolicyError,
    }
    assert set(_subclasses()) == covered
