"""Sealing one field value under a tenant's data key (AES-256-GCM), no I/O.

A sealed value is bytes: format byte 0x02, the data key's version (4 bytes,
big-endian), a 12-byte random nonce, then the ciphertext with its 16-byte
tag. The version travels inside, so after a rotation every value names the
key it needs. The associated data binds tenant, table, column and row id, so
a value copied to another row, column or tenant does not open.

The primitive is `cryptography`'s AESGCM (OpenSSL); nothing here is a
hand-written cipher, only the framing around it.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portico_common.errors import FailedPreconditionError, InvalidArgumentError, PorticoError

FORMAT = 0x02
KEY_BYTES = 32
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")
_MIN_LENGTH = _HEADER.size + NONCE_BYTES + 16


class EnvelopeError(PorticoError):
    """Base of the errors about sealed values and data keys."""


class MalformedSealedValueError(EnvelopeError, InvalidArgumentError):
    """The bytes are not a value sealed in this format."""

    def __init__(self, why: str) -> None:
        super().__init__(f"not a sealed value: {why}")


class UnreadableSealedValueError(EnvelopeError, FailedPreconditionError):
    """The value does not open: wrong key, another row's value, tampered, or the key is gone."""

    def __init__(self, binding: FieldBinding, why: str) -> None:
        super().__init__(
            f"{binding.table}.{binding.column} of row {binding.row_id} (tenant"
            f" {binding.tenant_id}) cannot be decrypted: {why}"
        )
        self.binding = binding


@dataclass(frozen=True)
class DataKey:
    """One version of a tenant's data-encryption key, unwrapped."""

    version: int
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes, not {len(self.material)}")
        if not 0 < self.version < 2**32:
            raise ValueError(f"a data key version is in [1, 2**32), not {self.version}")

    @staticmethod
    def generate(version: int) -> DataKey:
        return DataKey(version, AESGCM.generate_key(bit_length=KEY_BYTES * 8))


@dataclass(frozen=True)
class FieldBinding:
    """Where a value lives: the associated data it is sealed with."""

    tenant_id: str
    table: str
    column: str
    row_id: str

    def associated_data(self) -> bytes:
        # JSON of a list: unambiguous whatever the parts contain (no separator to forge).
        return json.dumps(
            ["portico-field-v1", self.tenant_id, self.table, self.column, self.row_id],
            separators=(",", ":"),
        ).encode()


def is_sealed(value: bytes) -> bool:
    """True for bytes in this format (any other bytes are not ours, e.g. a legacy value)."""
    return len(value) >= _MIN_LENGTH and value[0] == FORMAT


def key_version(sealed: bytes) -> int:
    """The version of the data key the value was sealed with."""
    if not is_sealed(sealed):
        raise MalformedSealedValueError(
            f"expected format byte {FORMAT} and at least {_MIN_LENGTH} bytes"
        )
    _, version = _HEADER.unpack_from(sealed)
    return int(version)


def seal(key: DataKey, binding: FieldBinding, plaintext: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key.material).encrypt(nonce, plaintext, binding.associated_data())
    return _HEADER.pack(FORMAT, key.version) + nonce + body


def open_sealed(key: DataKey, binding: FieldBinding, sealed: bytes) -> bytes:
    version = key_version(sealed)
    if version != key.version:
        raise UnreadableSealedValueError(binding, f"sealed with key {version}, not {key.version}")
    nonce = sealed[_HEADER.size : _HEADER.size + NONCE_BYTES]
    try:
        return AESGCM(key.material).decrypt(
            nonce, sealed[_HEADER.size + NONCE_BYTES :], binding.associated_data()
        )
    except InvalidTag:
        raise UnreadableSealedValueError(
            binding, "authentication failed (another row's value, or tampered)"
        ) from None
