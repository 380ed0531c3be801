"""The compat errors: one kernel category (so a gRPC code) each, and a message to act on."""

from __future__ import annotations

import pytest

from portico_common.errors import CATEGORIES, PorticoError
from portico_common.tenants import InvalidTenantIdError, require_tenant_id
from portico_compat import errors
from portico_compat.domain.solver import errors as solver_errors
from portico_compat.errors import (
    CompatError,
    InvalidApiCatalogError,
    InvalidHostProfileError,
    InvalidPackageError,
    InvalidPermissionPolicyError,
    InvalidPluginError,
    InvalidRangeError,
    InvalidReleaseManifestError,
    InvalidTenancyEventError,
    InvalidVersionError,
    ReleaseManifestUnavailableError,
    ReleaseNotPublishedError,
    UnknownHostProfileError,
    UnknownPackageError,
)

MAPPABLE = {
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "FAILED_PRECONDITION",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "UNAVAILABLE",
}


def _subclasses(*modules: object) -> list[type[CompatError]]:
    found = [
        value
        for module in modules or (errors,)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, CompatError) and value is not CompatError
    ]
    assert found
    return found


@pytest.mark.parametrize("error_type", _subclasses(errors, solver_errors), ids=lambda t: t.__name__)
def test_every_error_has_one_kernel_category_and_restates_no_code(
    error_type: type[CompatError],
) -> None:
    """Each compat error, solver ones included, takes its code from exactly one category."""
    assert len([c for c in CATEGORIES if issubclass(error_type, c)]) == 1
    ours = [c for c in error_type.__mro__ if c.__module__.startswith("portico_compat")]
    assert [c.__name__ for c in ours if "code" in vars(c)] == []


def test_the_base_error_has_no_code_of_its_own() -> None:
    """CompatError names no status: only the category of a concrete error does."""
    assert "code" not in vars(CompatError)
    assert not any(issubclass(CompatError, c) for c in CATEGORIES)


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
            InvalidTenancyEventError("tenant.quota.updated: a plugin count is negative"),
            "tenant.quota.updated: a plugin count is negative",
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
        (
            InvalidPackageError("tarball", "not a gzip archive"),
            "invalid package tarball: not a gzip archive",
            "INVALID_ARGUMENT",
        ),
        (
            UnknownPackageError("version 9.9.9 of 'x'"),
            "the npm catalog has no version 9.9.9 of 'x'",
            "NOT_FOUND",
        ),
        (
            ReleaseNotPublishedError("1.99.0", "http://v/v1/releases/1.99.0/manifest.json"),
            (
                "Backstage publishes no release manifest for '1.99.0'"
                " (http://v/v1/releases/1.99.0/manifest.json answered 404);"
                " record one with SetReleaseManifest"
            ),
            "NOT_FOUND",
        ),
        (
            ReleaseManifestUnavailableError("1.31.0", "connection refused"),
            (
                "cannot fetch the Backstage 1.31.0 release manifest: connection refused;"
                " try again, or record it with SetReleaseManifest"
            ),
            "UNAVAILABLE",
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
        InvalidTenancyEventError,
        UnknownHostProfileError,
        InvalidApiCatalogError,
        InvalidReleaseManifestError,
        InvalidPermissionPolicyError,
        InvalidPackageError,
        UnknownPackageError,
        ReleaseNotPublishedError,
        ReleaseManifestUnavailableError,
    }
    assert set(_subclasses()) == covered


def test_a_wildcard_tenant_is_refused_with_the_rule() -> None:
    """'*' (every tenant, to row-level security) is refused, with the rule in the message."""
    with pytest.raises(InvalidTenantIdError) as caught:
        require_tenant_id("*")
    assert str(caught.value) == (
        "invalid tenant_id '*': a tenant id is 2-63 characters of a-z, 0-9 and '-',"
        " not starting or ending with '-'"
    )
    assert caught.value.code == "INVALID_ARGUMENT"
