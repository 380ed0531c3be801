"""A package as a team has it: package.json text or an npm pack tarball, within bounds."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from typing import Any

import pytest

from portico_compat.domain import packages
from portico_compat.domain.packages import (
    package_json_of_tarball,
    requirements_from_package_json,
    requirements_of,
)
from portico_compat.errors import InvalidPackageError, InvalidPluginError

SPEC = "@backstage/plugin-catalog@1.32.0"


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_tarball_gives_the_same_requirements_as_its_package_json(backstage: Any) -> None:
    """npm pack's package/package.json is found and read like the file itself."""
    from_tarball = requirements_from_package_json(package_json_of_tarball(backstage.tarball(SPEC)))

    assert from_tarball == requirements_from_package_json(backstage.package_json(SPEC))


def test_a_tarball_with_another_root_directory_is_read_too() -> None:
    """Some registries pack under another root than `package/`; one package.json is enough."""
    document = json.dumps({"name": "x", "version": "1.0.0"}).encode()

    assert package_json_of_tarball(tarball({"x/package.json": document})) == document


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip", "not a gzip archive"),
        (gzip.compress(b"not a tar archive" * 40), "not a tar archive"),
        (tarball({"package/index.js": b""}), "has no <root>/package.json"),
        (
            tarball({"a/package.json": b"{}", "b/package.json": b"{}"}),
            "several package.json files at its root: a/package.json, b/package.json",
        ),
        (b"\0" * (packages.MAX_TARBALL_BYTES + 1), "bytes; at most"),
    ],
)
def test_a_bad_tarball_is_refused_with_the_reason(data: bytes, message: str) -> None:
    """Whatever is wrong with the archive is an InvalidPackageError saying what."""
    with pytest.raises(InvalidPackageError, match=message):
        package_json_of_tarball(data)


def test_an_archive_bomb_costs_a_bounded_amount_of_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unpacking stops at the bound; the archive is refused, not unpacked in full."""
    monkeypatch.setattr(packages, "MAX_UNPACKED_BYTES", 1024)
    bomb = tarball({"package/big.bin": b"\0" * 100_000, "package/package.json": b"{}"})

    with pytest.raises(InvalidPackageError, match="unpacks to more than 1024 bytes"):
        package_json_of_tarball(bomb)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "invalid package package.json: not JSON"),
        ("[]", "not a JSON object"),
        ('{"version": "1.0.0"}', "invalid package name: a package.json needs it"),
        ('{"name": "x", "version": "1.0.0", "dependencies": []}', "dependencies: expected an"),
        ('{"name": "x", "version": "1.0.0", "peerDependencies": {"a": 1}}', "ranges of a are"),
        ('{"name": "x", "version": "1.0.0", "backstage": {"role": 3}}', "backstage.role"),
        (
            '{"name": "x", "version": "1.0.0", "backstage": {"pluginPackages": "x"}}',
            "backstage.pluginPackages",
        ),
    ],
)
def test_a_malformed_package_json_is_refused_naming_the_field(document: str, message: str) -> None:
    """A field the check reads, in the wrong shape, is named in the error."""
    with pytest.raises(InvalidPackageError, match=message):
        requirements_from_package_json(document)


def test_the_package_json_name_and_version_follow_npms_rules() -> None:
    """A version npm would not publish is the plugin's error, as for CheckCompatibility."""
    with pytest.raises(InvalidPluginError, match="invalid plugin version"):
        requirements_of({"name": "x", "version": "v1.0.0"})


def test_fields_the_check_does_not_read_are_ignored() -> None:
    """scripts, devDependencies, exports... do not matter to an install on the host."""
    plugin = requirements_of(
        {"name": "x", "version": "1.0.0", "devDependencies": {"a": 1}, "scripts": []}
    )

    assert (plugin.dependencies, plugin.backstage) == ({}, None)
