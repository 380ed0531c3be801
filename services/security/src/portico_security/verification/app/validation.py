"""Request shape checks: what must hold before anything is read, stored or emitted.

An artifact that fails a check is a REJECTED decision, recorded. These are
the other cases: requests that do not say what to verify (a name or version
npm could not have published names no artifact), or that could not be
recorded faithfully (PostgreSQL text cannot hold NUL; a megabyte "name" is an
attack on the log, not a plugin).
"""

from __future__ import annotations

from portico_common.npm import require_package_name, require_version
from portico_common.tenants import require_tenant_id
from portico_security.verification.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.verification.errors import InvalidRequestError

# Far above every legitimate value (npm names 214, versions 256, key ids 256,
# sha512 SRI 95), so anything longer is refused rather than judged.
MAX_TEXT = 1024
# Room for PEMs far larger than any key we verify (an RSA-4096 one is about 800 characters).
MAX_PEM = 16 * 1024
# A DER ECDSA P-256 signature is at most 72 bytes; anything near this is not one.
MAX_SIGNATURE = 1024


def check_register(command: RegisterPublisherKey) -> None:
    """Raises InvalidRequestError unless the registration can be judged at all."""
    require_tenant_id(command.tenant_id)
    _text("publisher", command.publisher, MAX_TEXT)
    _text("key_id", command.key_id, MAX_TEXT)
    _text("algorithm", command.algorithm, MAX_TEXT)
    _text("public_key_pem", command.public_key_pem, MAX_PEM)


def check_verify(command: VerifyArtifact) -> None:
    """Raises InvalidRequestError unless the artifact can be judged and the decision recorded."""
    require_tenant_id(command.tenant_id)
    _required("plugin", command.plugin)
    _required("version", command.version)
    if not command.tarball:
        raise InvalidRequestError("tarball", "no tarball bytes were sent")
    # Empty integrity, signature or key id are judged (and rejected), not refused:
    # an unsigned artifact is a decision worth recording.
    for name, value in (
        ("plugin", command.plugin),
        ("version", command.version),
        ("integrity", command.integrity),
        ("key_id", command.key_id),
        ("registry_key_id", command.registry_key_id),
    ):
        _text(name, value, MAX_TEXT)
    require_package_name(command.plugin, "plugin")
    require_version(command.version, "version")
    for name, blob in (
        ("signature", command.signature),
        ("registry_signature", command.registry_signature),
    ):
        if len(blob) > MAX_SIGNATURE:
            raise InvalidRequestError(name, f"is {len(blob)} bytes; the limit is {MAX_SIGNATURE}")
    if command.published_at is not None and command.published_at.utcoffset() is None:
        raise InvalidRequestError("published_at", "must be a timezone-aware time")


def _required(name: str, value: str) -> None:
    if not value.strip():
        raise InvalidRequestError(name, "must not be empty")


def _text(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidRequestError(name, f"is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise InvalidRequestError(name, "contains a NUL character")
