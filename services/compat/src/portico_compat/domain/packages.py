"""A package as a team has it: its package.json, alone or inside an `npm pack` tarball.

Only what the check reads is taken: `name`, `version`, `engines`,
`peerDependencies` (with `peerDependenciesMeta`'s optional peers),
`dependencies` and Backstage's own `backstage` field (`role`, `pluginId`,
`pluginPackages`). Anything else in the document is ignored, as npm's install
ignores fields it does not use; a field it reads with the wrong shape is an
InvalidPackageError naming the field.

A tarball is read in memory within fixed bounds (compressed and unpacked
size, the package.json's size), so an archive bomb costs a bounded amount of
work and is refused with the reason.
"""

from __future__ import annotations

import io
import json
import tarfile
import zlib
from collections.abc import Mapping

from portico_compat.domain.plugins import BackstageMetadata, PluginRequirements
from portico_compat.errors import InvalidPackageError

# A package.json is a few kilobytes; a megabyte is far beyond any real one.
MAX_PACKAGE_JSON_BYTES = 1024 * 1024
# gRPC's default message limit is 4 MiB; plugin tarballs are a few hundred KiB.
MAX_TARBALL_BYTES = 3 * 1024 * 1024
# What a tarball may unpack to while we look for its package.json.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
# `npm pack` puts every file under this directory.
NPM_PACK_ROOT = "package"


def requirements_from_package_json(
    document: str | bytes, *, installed_version: str = ""
) -> PluginRequirements:
    """The requirements a package.json document states; InvalidPackageError if unreadable."""
    size = len(document)
    if size > MAX_PACKAGE_JSON_BYTES:
        raise InvalidPackageError("package.json", f"{size} bytes; at most {MAX_PACKAGE_JSON_BYTES}")
    try:
        data = json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidPackageError("package.json", f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidPackageError("package.json", "not a JSON object")
    return requirements_of(data, installed_version=installed_version)


def requirements_of(
    data: Mapping[str, object], *, installed_version: str = ""
) -> PluginRequirements:
    """The requirements of a package.json already parsed (a registry's version document too)."""
    name = _text(data, "name")
    version = _text(data, "version")
    peers = _ranges(data, "peerDependencies")
    return PluginRequirements(
        name,
        version,
        engines=_ranges(data, "engines"),
        peer_dependencies=peers,
        dependencies=_ranges(data, "dependencies"),
        installed_version=installed_version,
        optional_peers=_optional_peers(data),
        backstage=_backstage(data),
    )


def package_json_of_tarball(data: bytes) -> bytes:
    """The package.json inside an `npm pack` tarball (.tgz), within the module's bounds."""
    if len(data) > MAX_TARBALL_BYTES:
        raise InvalidPackageError("tarball", f"{len(data)} bytes; at most {MAX_TARBALL_BYTES}")
    # 16 + MAX_WBITS: a gzip header, as npm writes it.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        unpacked = inflater.decompress(data, MAX_UNPACKED_BYTES)
    except zlib.error as exc:
        raise InvalidPackageError("tarball", f"not a gzip archive: {exc}") from exc
    if inflater.unconsumed_tail:
        raise InvalidPackageError("tarball", f"unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    try:
        with tarfile.open(fileobj=io.BytesIO(unpacked), mode="r:") as archive:
            member = _package_json_member(archive)
            if member.size > MAX_PACKAGE_JSON_BYTES:
                raise InvalidPackageError(
                    "tarball",
                    f"{member.name} is {member.size} bytes; at most {MAX_PACKAGE_JSON_BYTES}",
                )
            extracted = archive.extractfile(member)
            if extracted is None:  # pragma: no cover - _package_json_member keeps regular files
                raise InvalidPackageError("tarball", f"{member.name} is not a regular file")
            return extracted.read()
    except tarfile.TarError as exc:
        raise InvalidPackageError("tarball", f"not a tar archive: {exc}") from exc


def _package_json_member(archive: tarfile.TarFile) -> tarfile.TarInfo:
    """`package/package.json`, else the one `<root>/package.json` there is."""
    candidates = [
        m
        for m in archive.getmembers()
        if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/package.json")
    ]
    for member in candidates:
        if member.name == f"{NPM_PACK_ROOT}/package.json":
            return member
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InvalidPackageError("tarball", "has no <root>/package.json, as npm pack writes it")
    names = ", ".join(sorted(m.name for m in candidates))
    raise InvalidPackageError("tarball", f"has several package.json files at its root: {names}")


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPackageError(key, "a package.json needs it, as a non-empty string")
    return value


def _ranges(data: Mapping[str, object], key: str) -> dict[str, str]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPackageError(key, "expected an object of name to range")
    bad = sorted(str(k) for k, v in value.items() if not isinstance(v, str))
    if bad:
        raise InvalidPackageError(key, f"the ranges of {', '.join(bad[:5])} are not strings")
    return {str(k): v for k, v in value.items()}


def _optional_peers(data: Mapping[str, object]) -> tuple[str, ...]:
    meta = data.get("peerDependenciesMeta")
    if meta is None:
        return ()
    if not isinstance(meta, dict):
        raise InvalidPackageError("peerDependenciesMeta", "expected an object")
    return tuple(
        sorted(
            str(name)
            for name, flags in meta.items()
            if isinstance(flags, dict) and flags.get("optional") is True
        )
    )


def _backstage(data: Mapping[str, object]) -> BackstageMetadata | None:
    field = data.get("backstage")
    if field is None:
        return None
    if not isinstance(field, dict):
        raise InvalidPackageError("backstage", "expected an object")
    role = field.get("role", "")
    plugin_id = field.get("pluginId", "")
    packages = field.get("pluginPackages", [])
    if not isinstance(role, str):
        raise InvalidPackageError("backstage.role", "expected a string")
    if not isinstance(plugin_id, str):
        raise InvalidPackageError("backstage.pluginId", "expected a string")
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise InvalidPackageError("backstage.pluginPackages", "expected a list of package names")
    return BackstageMetadata(role, plugin_id, tuple(packages))
