"""What plugin names, versions and user ids may look like.

These are the ids that end up in SQL parameters, CloudEvent headers, NATS
subjects and log lines, so they are checked at the door. The version is only
checked for shape (an exact version, not a range); its semantics belong to
the semver library compat uses. Tenant ids follow the kernel's rule
(`portico_common.tenants.require_tenant_id`).
"""

from __future__ import annotations

import re

from portico_rollout.errors import InvalidRolloutError

# npm's rules for a new package name (validate-npm-package-name).
_PLUGIN = re.compile(r"^(?:@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]*$")
MAX_PLUGIN = 214
# Exact npm versions start with a digit and use only these characters; any
# range operator, space or wildcard is refused.
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+-]{0,127}$")
MAX_ID = 256


def validate_plugin(plugin: str) -> str:
    """Return `plugin`, or raise unless it is a valid npm package name."""
    if len(plugin) > MAX_PLUGIN or not _PLUGIN.match(plugin):
        raise InvalidRolloutError(
            "plugin", f"{plugin!r} is not an npm package name (like @scope/name)"
        )
    return plugin


def validate_version(version: str) -> str:
    """Return `version`, or raise unless it looks like one exact version."""
    if not _VERSION.match(version):
        raise InvalidRolloutError(
            "version", f"{version!r} is not an exact version (like 2.3.0, no ranges)"
        )
    return version


def validate_id(field: str, value: str) -> str:
    """Return `value` if it is 1..256 printable characters without spaces."""
    if not value or len(value) > MAX_ID or not value.isprintable() or " " in value:
        raise InvalidRolloutError(field, f"must be 1..{MAX_ID} printable characters, no spaces")
    return value
