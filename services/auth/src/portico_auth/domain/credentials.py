"""Client secrets at rest: scrypt hashes with a per-secret salt, checked in constant time.

The stored form is `scrypt$ln=<log2 n>,r=<r>,p=<p>$<salt>$<hash>` (base64url, no
padding), so the cost can be raised later without invalidating stored secrets.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

_ENCODED = re.compile(
    r"^scrypt\$ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d{1,2})"
    r"\$(?P<salt>[A-Za-z0-9_-]{16,})\$(?P<hash>[A-Za-z0-9_-]{32,})$"
)
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's work factors: n = 2**log2_n, block size r, parallelism p."""

    log2_n: int = 14
    r: int = 8
    p: int = 1


DEFAULT_COST = ScryptCost()
_SALT_BYTES = 16
_HASH_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _kdf(salt: bytes, cost: ScryptCost) -> Scrypt:
    return Scrypt(salt=salt, length=_HASH_BYTES, n=2**cost.log2_n, r=cost.r, p=cost.p)


def hash_secret(secret: str, cost: ScryptCost = DEFAULT_COST, *, salt: bytes | None = None) -> str:
    """The storable scrypt hash of `secret`, under a fresh random salt unless one is given."""
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = _kdf(salt, cost).derive(secret.encode())
    return f"scrypt$ln={cost.log2_n},r={cost.r},p={cost.p}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, encoded: str) -> bool:
    """Whether `secret` matches the stored hash; the comparison is constant-time.

    A malformed stored hash raises ValueError: that is corrupt data, not a wrong secret.
    """
    match = _ENCODED.match(encoded)
    if match is None:
        raise ValueError("stored client secret hash is not in the scrypt$... format")
    cost = ScryptCost(int(match["ln"]), int(match["r"]), int(match["p"]))
    try:
        # Scrypt.verify compares with cryptography's constant-time bytes_eq.
        _kdf(_unb64(match["salt"]), cost).verify(secret.encode(), _unb64(match["hash"]))
    except InvalidKey:
        return False
    return True


@cache
def _decoy_hash() -> str:
    return hash_secret(_b64(os.urandom(24)))


def burn_verification_time(secret: str) -> None:
    """Spends what a real check costs, so an unknown client id answers no faster."""
    verify_secret(secret, _decoy_hash())
