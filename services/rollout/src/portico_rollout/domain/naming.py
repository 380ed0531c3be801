"""What user ids and other opaque ids may look like.

These are the ids that end up in SQL parameters, CloudEvent headers, NATS
subjects and log lines, so they are checked at the door. Plugin names and
versions follow the kernel's npm rule (`portico_common.npm`), tenant ids the
kernel's tenant rule (`portico_common.tenants.require_tenant_id`).
"""

from __future__ import annotations

from portico_rollout.errors import InvalidRolloutError

MAX_ID = 256


def validate_id(field: str, value: str) -> str:
    """Return `value` if it is 1..256 printable characters without spaces."""
    if not value or len(value) > MAX_ID or not value.isprintable() or " " in value:
        raise InvalidRolloutError(field, f"must be 1..{MAX_ID} printable characters, no spaces")
    return value
