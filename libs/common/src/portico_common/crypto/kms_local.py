"""The local KMS: a key file of KEK versions, for `portico up` and tests.

The file (JSON: `{"primary": n, "keys": {"1": base64, ...}}`) is created
0600 by `portico up` under `.portico/`, and refused when anyone but its
owner may read it. Rotation adds a version and rewrites the file atomically
(a temporary file renamed over it); old versions stay so wrapped keys under
them still unwrap until they are re-wrapped. Wrapped form: format byte
0x01, KEK version (4 bytes), 12-byte nonce, AES-256-GCM ciphertext and tag
with the context as associated data.

In a container the same document (or one KEK as 64 hex characters) can come
from a setting instead (`LocalKms.from_setting`): read-only, so rotating means
the operator adds a version there, makes it primary and restarts tenancy;
`rotate` then answers that primary and the caller re-wraps under it.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portico_common.crypto.kms import KmsError, KmsUnwrapError
from portico_common.errors import FailedPreconditionError

_FORMAT = 0x01
_HEADER = struct.Struct(">BI")
_NONCE = 12


class LocalKeyFileError(KmsError, FailedPreconditionError):
    """The key file is missing, unreadable, open to others, or malformed."""


class LocalKms:
    """KEK versions from a 0600 key file."""

    def __init__(self, path: Path) -> None:
        self.path: Path | None = path
        self._primary, self._keys = _read(path)

    @classmethod
    def from_setting(cls, value: str, name: str = "PORTICO_TENANCY_KMS_KEY") -> LocalKms:
        """A read-only KMS from a setting: the key file's JSON, or one KEK in 64 hex characters."""
        kms = cls.__new__(cls)
        kms.path = None
        text = value.strip()
        try:
            if text.startswith("{"):
                kms._primary, kms._keys = _parse(json.loads(text))
            else:
                kms._primary, kms._keys = 1, {1: bytes.fromhex(text)}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LocalKeyFileError(f"{name} is malformed: {exc}") from None
        if kms._primary not in kms._keys or any(len(k) != 32 for k in kms._keys.values()):
            raise LocalKeyFileError(f"{name} is malformed: bad primary or key size")
        return kms

    @property
    def name(self) -> str:
        return "local"

    @staticmethod
    def create(path: Path) -> LocalKms:
        """Creates the key file with one KEK unless it exists; then opens it."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, 1, {1: AESGCM.generate_key(bit_length=256)})
        return LocalKms(path)

    async def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        body = AESGCM(self._keys[self._primary]).encrypt(nonce, data_key, context)
        return _HEADER.pack(_FORMAT, self._primary) + nonce + body

    async def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        version = self.kek_version(wrapped)
        key = self._keys.get(version)
        if key is None:
            raise KmsUnwrapError(f"KEK version {version} is not in {self.path or 'the setting'}")
        nonce = wrapped[_HEADER.size : _HEADER.size + _NONCE]
        try:
            return AESGCM(key).decrypt(nonce, wrapped[_HEADER.size + _NONCE :], context)
        except InvalidTag:
            raise KmsUnwrapError("a wrapped data key failed authentication") from None

    async def rewrap(self, wrapped: bytes, context: bytes) -> bytes:
        return await self.wrap(await self.unwrap(wrapped, context), context)

    async def rotate(self) -> int:
        if self.path is None:
            return self._primary  # read-only: the operator's primary is the newest
        version = max(self._keys) + 1
        keys = {**self._keys, version: AESGCM.generate_key(bit_length=256)}
        _write(self.path, version, keys)
        self._primary, self._keys = version, keys
        return version

    def kek_version(self, wrapped: bytes) -> int:
        if len(wrapped) < _HEADER.size + _NONCE + 16 or wrapped[0] != _FORMAT:
            raise KmsUnwrapError("not a data key wrapped by the local KMS")
        return int(_HEADER.unpack_from(wrapped)[1])


def _read(path: Path) -> tuple[int, dict[int, bytes]]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise LocalKeyFileError(
            f"the KMS key file {path} does not exist (`portico up` creates it)"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise LocalKeyFileError(
            f"the KMS key file {path} must be readable by its owner only (0600)"
        )
    try:
        primary, keys = _parse(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LocalKeyFileError(f"the KMS key file {path} is malformed: {exc}") from None
    if primary not in keys or any(len(k) != 32 for k in keys.values()):
        raise LocalKeyFileError(f"the KMS key file {path} is malformed: bad primary or key size")
    return primary, keys


def _parse(doc: Any) -> tuple[int, dict[int, bytes]]:
    keys = {int(v): base64.b64decode(k, validate=True) for v, k in doc["keys"].items()}
    return int(doc["primary"]), keys


def _write(path: Path, primary: int, keys: dict[int, bytes]) -> None:
    doc = {
        "primary": primary,
        "keys": {str(v): base64.b64encode(k).decode() for v, k in keys.items()},
    }
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out)
        out.flush()
        os.fsync(out.fileno())
    tmp.chmod(0o600)
    tmp.replace(path)
