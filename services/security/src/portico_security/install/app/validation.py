"""Shape checks of install requests: what must hold before anything is read or stored."""

from __future__ import annotations

from portico_security.install.errors import InvalidInstallRequestError

# Far above every legitimate name, role, comment or reason: anything longer is
# an attack on the audit trail, not a request.
MAX_TEXT = 1024


def check_text(name: str, value: str, *, required: bool = False) -> None:
    """Refuses text that is missing (when required), too long, or holds NUL (PostgreSQL can't)."""
    if required and not value.strip():
        raise InvalidInstallRequestError(name, "must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidInstallRequestError(
            name, f"is {len(value)} characters; the limit is {MAX_TEXT}"
        )
    if "\x00" in value:
        raise InvalidInstallRequestError(name, "contains a NUL character")
