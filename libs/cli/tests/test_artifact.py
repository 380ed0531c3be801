"""The demo's artifact builders: npm-style tarball, SRI integrity, Ed25519 signature."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from portico_cli.artifact import (
    NPM_PACK_MTIME,
    PublisherKey,
    b64,
    build,
    integrity_of,
    pack,
    plugin_manifest,
    read_manifest,
    signature_message,
)

ENGINES = {"node": ">=18", "backstage": "^1.30.0"}
PEERS = {"@backstage/core-plugin-api": "^1.9.0", "react": "^18.0.0"}


@pytest.fixture(scope="module")
def key() -> PublisherKey:
    return PublisherKey.generate("acme", "acme-test")


def test_the_tarball_is_a_gzipped_tar_with_entries_under_package(key: PublisherKey) -> None:
    """Entries live under package/ with npm pack's fixed mtime and 0644 files."""
    artifact = build("@acme/plugin-x", "2.3.0", key, engines=ENGINES, peer_dependencies=PEERS)
    raw = gzip.decompress(artifact.tarball)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
    assert {m.name for m in members} == {
        "package/package.json",
        "package/README.md",
        "package/dist/index.js",
    }
    assert all(m.mtime == NPM_PACK_MTIME and m.mode == 0o644 and m.isfile() for m in members)


def test_package_json_carries_name_version_engines_and_peers(key: PublisherKey) -> None:
    """What compat checks is read back from the tarball itself."""
    artifact = build("@acme/plugin-x", "2.3.0", key, engines=ENGINES, peer_dependencies=PEERS)
    manifest = read_manifest(artifact.tarball)
    assert manifest["name"] == "@acme/plugin-x"
    assert manifest["version"] == "2.3.0"
    assert manifest["engines"] == ENGINES
    assert manifest["peerDependencies"] == PEERS
    assert artifact.engines == ENGINES
    assert artifact.peer_dependencies == PEERS


def test_packing_is_reproducible() -> None:
    """The same manifest and files give the same bytes, hence the same integrity."""
    manifest = plugin_manifest("@acme/plugin-x", "1.0.0", ENGINES, PEERS)
    assert pack(manifest, {"a.js": b"1"}) == pack(manifest, {"a.js": b"1"})
    assert pack(manifest, {"a.js": b"1"}) != pack(manifest, {"a.js": b"2"})


def test_integrity_is_sri_sha512_of_the_tgz() -> None:
    """sha512- followed by the standard base64 of the digest, as npm's dist.integrity."""
    data = b"tarball bytes"
    expected = base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert integrity_of(data) == f"sha512-{expected}"


def test_the_signature_verifies_with_the_registered_pem_over_npms_message(
    key: PublisherKey,
) -> None:
    """Ed25519 over NAME@VERSION:INTEGRITY, checkable with the PEM SubjectPublicKeyInfo."""
    artifact = build("@acme/plugin-x", "2.3.0", key, engines=ENGINES, peer_dependencies=PEERS)
    public = load_pem_public_key(key.public_key_pem.encode())
    assert isinstance(public, Ed25519PublicKey)
    assert key.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    message = signature_message(artifact.name, artifact.version, artifact.integrity)
    assert message == f"@acme/plugin-x@2.3.0:{artifact.integrity}".encode()
    public.verify(artifact.signature, message)
    with pytest.raises(InvalidSignature):
        public.verify(
            artifact.signature, signature_message("@acme/plugin-x", "2.3.1", artifact.integrity)
        )


def test_bytes_fields_are_base64_in_proto_json() -> None:
    """Proto JSON encodes bytes as standard base64 with padding."""
    assert b64(b"\x00\xff") == "AP8="


def test_read_manifest_refuses_a_tarball_without_package_json() -> None:
    """A tarball without package/package.json is an error, not an empty manifest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("other/file")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(KeyError):
        read_manifest(gzip.compress(raw.getvalue()))


def test_the_private_key_never_shows_in_repr(key: PublisherKey) -> None:
    """Printing an artifact or key shows neither the key nor the tarball."""
    artifact = build("@acme/plugin-x", "2.3.0", key, engines=ENGINES, peer_dependencies=PEERS)
    assert "private_key" not in repr(key)
    assert "tarball" not in repr(artifact)
    assert json.dumps(artifact.manifest)
