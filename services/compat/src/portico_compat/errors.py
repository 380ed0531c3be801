"""Errors the compat service raises on purpose.

Each class names, in `code`, the gRPC status an entrypoint maps it to; the
domain never imports gRPC, so the code is a plain string. A plugin that does
not fit a host is not an error: that is a report with unsatisfied findings.
Errors are for input that cannot be checked at all.
"""

from __future__ import annotations

from portico_common.errors import PorticoError


class CompatError(PorticoError):
    """Base of every compat error."""

    code = "FAILED_PRECONDITION"


class InvalidVersionError(CompatError):
    """A version string is not a valid semantic version."""

    code = "INVALID_ARGUMENT"

    def __init__(self, version: str, problem: str) -> None:
        super().__init__(f"invalid version {version!r}: {problem}")
        self.version = version
        self.problem = problem


class InvalidRangeError(CompatError):
    """A version range cannot be parsed with npm's range grammar."""

    code = "INVALID_ARGUMENT"

    def __init__(self, range_: str, problem: str) -> None:
        super().__init__(f"invalid version range {range_!r}: {problem}")
        self.range = range_
        self.problem = problem


class InvalidHostProfileError(CompatError):
    """A host profile field is missing or malformed."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid host profile {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPluginError(CompatError):
    """The plugin named in a compatibility check is missing or malformed."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid plugin {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidTenantError(CompatError):
    """A tenant id breaks the tenancy service's naming rule."""

    code = "INVALID_ARGUMENT"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"invalid tenant_id {tenant_id!r}: must be 2-63 characters of a-z, 0-9 and '-',"
            " starting and ending with a letter or digit"
        )
        self.tenant_id = tenant_id


class UnknownHostProfileError(CompatError):
    """No host profile was recorded for the tenant, so nothing can be checked.

    FAILED_PRECONDITION rather than NOT_FOUND: the request names a plugin, not
    the profile, and becomes valid once the tenant's profile is set.
    """

    code = "FAILED_PRECONDITION"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"no host profile is recorded for tenant {tenant_id!r};"
            " set one with SetHostProfile before checking plugins"
        )
        self.tenant_id = tenant_id


class InvalidApiCatalogError(CompatError):
    """A host API catalog is malformed."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid host API catalog {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidReleaseManifestError(CompatError):
    """A Backstage release manifest is malformed."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid release manifest {field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPermissionPolicyError(CompatError):
    """A permission policy is malformed."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid permission policy {field}: {problem}")
        self.field = field
        self.problem = problem
