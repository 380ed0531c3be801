"""Test helpers shipped with the service: real npm tarballs and a publisher that signs them.

Used by this service's tests and by anything that drives it end to end (the
demo, suite-wide tests): build a `.tgz` the way `npm pack` lays it out, then
sign `NAME@VERSION:INTEGRITY` with an Ed25519 key whose public half is
registered with RegisterPublisherKey.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portico_security.verification.domain.integrity import compute_sri
from portico_security.verification.domain.signatures import signed_message

# Fixed, so the same inputs give the same bytes (and the same integrity).
_MTIME = 499162500  # npm pack's fixed timestamp: 1985-10-26T08:15:00Z


def npm_tarball(name: str, version: str, files: Mapping[str, str] | None = None) -> bytes:
    """A gzipped tar with `package/package.json` and `files` (paths under `package/`)."""
    manifest = {"name": name, "version": version, "main": "index.js"}
    contents = {"package.json": json.dumps(manifest, indent=2) + "\n"}
    contents.update(files if files is not None else {"index.js": "module.exports = {};\n"})
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, text in sorted(contents.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"package/{path}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _MTIME
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass(frozen=True)
class SignedArtifact:
    """What a caller sends to VerifyArtifact for one package version."""

    plugin: str
    version: str
    tarball: bytes = field(repr=False)
    integrity: str
    signature: bytes = field(repr=False)
    key_id: str


@dataclass(frozen=True)
class Publisher:
    """A publisher's Ed25519 key pair; only `public_key_pem` is ever registered."""

    name: str
    key_id: str
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate, repr=False)

    @property
    def public_key_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def sign(self, plugin: str, version: str, integrity: str) -> bytes:
        """The Ed25519 signature of npm's registry-signature message for this version."""
        return self.private_key.sign(signed_message(plugin, version, integrity))

    def publish(self, plugin: str, version: str, tarball: bytes | None = None) -> SignedArtifact:
        """Packs (unless given) and signs `plugin@version` with sha512 integrity."""
        data = tarball if tarball is not None else npm_tarball(plugin, version)
        integrity = compute_sri(data)
        return SignedArtifact(
            plugin=plugin,
            version=version,
            tarball=data,
            integrity=integrity,
            signature=self.sign(plugin, version, integrity),
            key_id=self.key_id,
        )
