"""The local KMS: a 0600 key file whose KEK versions wrap, unwrap, rotate and re-wrap data keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico_common.crypto.envelope import DataKey
from portico_common.crypto.kms import KmsUnwrapError, wrap_context
from portico_common.crypto.kms_local import LocalKeyFileError, LocalKms


async def test_a_wrapped_key_unwraps_under_its_context_only(tmp_path: Path) -> None:
    """The context (tenant and version) is authenticated: another tenant's context fails."""
    kms = LocalKms.create(tmp_path / "kms.json")
    dek = DataKey.generate(1).material
    wrapped = await kms.wrap(dek, wrap_context("acme", 1))
    assert dek not in wrapped
    assert await kms.unwrap(wrapped, wrap_context("acme", 1)) == dek
    with pytest.raises(KmsUnwrapError):
        await kms.unwrap(wrapped, wrap_context("globex", 1))


async def test_the_key_file_is_created_owner_only_and_reused(tmp_path: Path) -> None:
    """create() writes 0600 once; a second create() opens the same KEK."""
    path = tmp_path / ".portico" / "kms.json"
    wrapped = await LocalKms.create(path).wrap(b"k" * 32, b"ctx")
    assert path.stat().st_mode & 0o777 == 0o600
    assert await LocalKms.create(path).unwrap(wrapped, b"ctx") == b"k" * 32


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    """A KEK readable by the group or others is refused, naming the file and the mode."""
    path = tmp_path / "kms.json"
    LocalKms.create(path)
    path.chmod(0o644)
    with pytest.raises(LocalKeyFileError, match="0600"):
        LocalKms(path)


def test_a_missing_key_file_says_who_creates_it(tmp_path: Path) -> None:
    """Without the file the error names `portico up`."""
    with pytest.raises(LocalKeyFileError, match="portico up"):
        LocalKms(tmp_path / "absent.json")


async def test_rotation_keeps_old_versions_and_rewrap_moves_keys_to_the_new_one(
    tmp_path: Path,
) -> None:
    """After rotating, old wrapped keys still unwrap, and rewrap puts them under the new KEK."""
    path = tmp_path / "kms.json"
    kms = LocalKms.create(path)
    old = await kms.wrap(b"d" * 32, b"ctx")
    assert await kms.rotate() == 2
    assert kms.kek_version(old) == 1
    rewrapped = await kms.rewrap(old, b"ctx")
    assert kms.kek_version(rewrapped) == 2
    reopened = LocalKms(path)
    assert await reopened.unwrap(old, b"ctx") == b"d" * 32
    assert await reopened.unwrap(rewrapped, b"ctx") == b"d" * 32
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_kek_from_a_setting_is_read_only_and_rotation_moves_to_its_primary(
    tmp_path: Path,
) -> None:
    """A hex KEK or the file's JSON from a setting wraps as the file does; rotate() keeps it."""
    hex_kms = LocalKms.from_setting("ab" * 32)
    wrapped = await hex_kms.wrap(b"d" * 32, b"ctx")
    assert await hex_kms.rotate() == 1
    path = tmp_path / "kms.json"
    file_kms = LocalKms.create(path)
    old = await file_kms.wrap(b"d" * 32, b"ctx")
    await file_kms.rotate()
    doc_kms = LocalKms.from_setting(path.read_text())
    assert await doc_kms.rotate() == 2
    assert doc_kms.kek_version(await doc_kms.rewrap(old, b"ctx")) == 2
    assert await hex_kms.unwrap(wrapped, b"ctx") == b"d" * 32


@pytest.mark.parametrize("value", ["abc", "ab" * 16, '{"primary": 2, "keys": {}}', "{"])
def test_a_malformed_setting_is_refused_naming_it(value: str) -> None:
    """Short keys, bad hex, a primary that is not there or broken JSON name the setting."""
    with pytest.raises(LocalKeyFileError, match="PORTICO_TENANCY_KMS_KEY"):
        LocalKms.from_setting(value)
