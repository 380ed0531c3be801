"""Errors the compat service raises on purpose.

Each concrete error extends `CompatError` and one kernel category, which
names the gRPC status an entrypoint maps it to. A plugin that does not fit a
host is not an error: that is a report with unsatisfied findings. Errors are
for input that cannot be checked at all.
"""

from __future__ import annotations

from portico_common.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PorticoError,
    UnavailableError,
)


class CompatError(PorticoError):
    """Base of every compat error."""


class InvalidVersionError(CompatError, InvalidArgumentError):
    """A version string is not a valid semantic version."""

    def __init__(self, version: str, problem: str) -> None:
        super().__init__(f"invalid version {version!r}: {problem}")
        self.version = version
        self.problem = problem


class InvalidRangeError(CompatError, InvalidArgumentError):
    """A version range cannot be parsed with npm's range grammar."""

    def __init__(self, range_: str, problem: str) -> None:
        super().__init__(f"invalid version range {range_!r}: {problem}")
        self.range = range_
        self.problem = problem


class InvalidHostProfileError(CompatError, InvalidArgumentError):
    """A host profile field is missing or malformed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid host profile {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPluginError(CompatError, InvalidArgumentError):
    """The plugin named in a compatibility check is missing or malformed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid plugin {field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownHostProfileError(CompatError, FailedPreconditionError):
    """No host profile was recorded for the tenant, so nothing can be checked.

    FAILED_PRECONDITION rather than NOT_FOUND: the request names a plugin, not
    the profile, and becomes valid once the tenant's profile is set.
    """

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"no host profile is recorded for tenant {tenant_id!r};"
            " set one with SetHostProfile before checking plugins"
        )
        self.tenant_id = tenant_id


class InvalidApiCatalogError(CompatError, InvalidArgumentError):
    """A host API catalog is malformed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid host API catalog {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidReleaseManifestError(CompatError, InvalidArgumentError):
    """A Backstage release manifest is malformed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid release manifest {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPermissionPolicyError(CompatError, InvalidArgumentError):
    """A permission policy is malformed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid permission policy {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidTenancyEventError(CompatError, InvalidArgumentError):
    """A tenancy event compat cannot take in (wrong payload, tenant mismatch)."""


class InvalidPackageError(CompatError, InvalidArgumentError):
    """A package.json, a tarball or a name@version that cannot be read as a package."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid package {field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownPackageError(CompatError, NotFoundError):
    """The npm catalog has no such package or version."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the npm catalog has no {what}")
        self.what = what


class ReleaseNotPublishedError(CompatError, NotFoundError):
    """Backstage publishes no manifest for the release (the versions service answers 404)."""

    def __init__(self, release: str, url: str) -> None:
        super().__init__(
            f"Backstage publishes no release manifest for {release!r} ({url} answered 404);"
            " record one with SetReleaseManifest"
        )
        self.release = release


class ReleaseManifestUnavailableError(CompatError, UnavailableError):
    """The release-manifest source cannot give a usable manifest right now."""

    def __init__(self, release: str, problem: str) -> None:
        super().__init__(
            f"cannot fetch the Backstage {release} release manifest: {problem}; try again, or"
            " record it with SetReleaseManifest"
        )
        self.release = release
        self.problem = problem
