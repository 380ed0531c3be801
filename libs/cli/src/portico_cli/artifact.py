"""A real npm-style plugin artifact, built in memory: tarball, integrity, signature.

The tarball is what `npm pack` produces (a gzipped tar whose entries live
under `package/`), with fixed metadata so the same input always gives the same
bytes. The integrity is a Subresource Integrity string over the .tgz, and the
signature is Ed25519 over npm's registry-signature message
`NAME@VERSION:INTEGRITY`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# npm pack stamps every entry with this time (1985-10-26T08:15:00Z) for reproducibility.
NPM_PACK_MTIME = 499_162_500


@dataclass(frozen=True)
class PublisherKey:
    """An Ed25519 key pair of a plugin publisher."""

    publisher: str
    key_id: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, publisher: str, key_id: str) -> PublisherKey:
        return cls(publisher, key_id, Ed25519PrivateKey.generate())

    @property
    def public_key_pem(self) -> str:
        """PEM SubjectPublicKeyInfo, as the security service registers it."""
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


@dataclass(frozen=True)
class Artifact:
    """A packed plugin version with its integrity and publisher signature."""

    name: str
    version: str
    manifest: dict[str, Any]
    tarball: bytes = field(repr=False)
    integrity: str
    signature: bytes = field(repr=False)
    key_id: str

    @property
    def engines(self) -> dict[str, str]:
        return dict(self.manifest.get("engines", {}))

    @property
    def peer_dependencies(self) -> dict[str, str]:
        return dict(self.manifest.get("peerDependencies", {}))


def plugin_manifest(
    name: str,
    version: str,
    engines: dict[str, str],
    peer_dependencies: dict[str, str],
    dependencies: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Backstage frontend plugin's package.json."""
    manifest: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": f"{plugin_id(name)} for your Backstage portal (Portico demo plugin)",
        "license": "Apache-2.0",
        "main": "dist/index.js",
        "backstage": {"role": "frontend-plugin"},
        "engines": dict(engines),
        "peerDependencies": dict(peer_dependencies),
    }
    if dependencies:
        manifest["dependencies"] = dict(dependencies)
    return manifest


def pack(manifest: dict[str, Any], files: dict[str, bytes] | None = None) -> bytes:
    """The .tgz `npm pack` would produce: package.json plus `files`, under package/."""
    entries = {"package.json": (json.dumps(manifest, indent=2) + "\n").encode()}
    entries.update(files or {})
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            data = entries[path]
            info = tarfile.TarInfo(f"package/{path}")
            info.size = len(data)
            info.mtime = NPM_PACK_MTIME
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def read_manifest(tarball: bytes) -> dict[str, Any]:
    """package/package.json from a .tgz."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        member = tar.extractfile("package/package.json")
        if member is None:
            raise ValueError("package/package.json is not a regular file")
        data = json.loads(member.read())
    if not isinstance(data, dict):
        raise TypeError("package.json is not a JSON object")
    return data


def integrity_of(data: bytes) -> str:
    """Subresource Integrity (sha512), as npm's `dist.integrity`."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def signature_message(name: str, version: str, integrity: str) -> bytes:
    return f"{name}@{version}:{integrity}".encode()


def build(
    name: str,
    version: str,
    key: PublisherKey,
    *,
    engines: dict[str, str],
    peer_dependencies: dict[str, str],
    dependencies: dict[str, str] | None = None,
) -> Artifact:
    """Packs, hashes and signs one plugin version."""
    manifest = plugin_manifest(name, version, engines, peer_dependencies, dependencies)
    tarball = pack(
        manifest,
        {
            "README.md": f"# {name}\n\nVersion {version}.\n".encode(),
            "dist/index.js": f"export const plugin = {{ id: '{plugin_id(name)}' }};\n".encode(),
        },
    )
    integrity = integrity_of(tarball)
    return Artifact(
        name=name,
        version=version,
        manifest=manifest,
        tarball=tarball,
        integrity=integrity,
        signature=key.sign(signature_message(name, version, integrity)),
        key_id=key.key_id,
    )


def plugin_id(name: str) -> str:
    """The plugin's id in its bundle: the package name without scope and "plugin-"."""
    return name.rpartition("/")[2].removeprefix("plugin-")


def b64(data: bytes) -> str:
    """Proto JSON's encoding of a bytes field."""
    return base64.b64encode(data).decode()
