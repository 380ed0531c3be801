"""Subresource Integrity (SRI) strings, as npm writes them in `dist.integrity`.

An SRI string is `<algorithm>-<base64 digest>`. We accept exactly one such
hash expression with one of the SHA-2 algorithms the SRI specification
allows, and refuse anything else precisely: a verifier that guesses at a
malformed checksum can be made to accept the wrong bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from portico_security.verification.errors import InvalidIntegrityError


class HashAlgorithm(StrEnum):
    """The SRI hash algorithms (SHA-2 family only; npm publishes sha512)."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def digest_size(self) -> int:
        """Length in bytes of a digest of this algorithm."""
        return hashlib.new(self.value).digest_size


_SUPPORTED = ", ".join(algorithm.value for algorithm in HashAlgorithm)
# Standard base64 (not URL-safe), padded, as the SRI grammar's base64-value.
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# Any Unicode whitespace (a per-character Python loop cost more than the hash
# of a small tarball).
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Integrity:
    """A parsed SRI hash expression: the algorithm and the raw digest bytes."""

    algorithm: HashAlgorithm
    digest: bytes

    def __str__(self) -> str:
        return f"{self.algorithm}-{base64.b64encode(self.digest).decode('ascii')}"


def parse_integrity(sri: str) -> Integrity:
    """Parse one SRI hash expression, or raise InvalidIntegrityError saying what is wrong."""
    if not sri:
        raise InvalidIntegrityError(sri, "it is empty")
    if _WHITESPACE.search(sri):
        # SRI allows a space-separated list; npm emits one hash, and choosing
        # among several is a policy we do not want to guess at.
        raise InvalidIntegrityError(sri, "expected exactly one hash expression, without spaces")
    if "?" in sri:
        raise InvalidIntegrityError(sri, "SRI options ('?...') are not accepted")
    name, separator, encoded = sri.partition("-")
    if not separator:
        raise InvalidIntegrityError(sri, "expected '<algorithm>-<base64 digest>'")
    try:
        algorithm = HashAlgorithm(name)
    except ValueError:
        raise InvalidIntegrityError(
            sri, f"unsupported algorithm {name!r}; expected one of {_SUPPORTED}"
        ) from None
    digest = _decode_digest(sri, encoded)
    if len(digest) != algorithm.digest_size:
        raise InvalidIntegrityError(
            sri,
            f"a {algorithm} digest is {algorithm.digest_size} bytes, this one is {len(digest)}",
        )
    return Integrity(algorithm, digest)


def _decode_digest(sri: str, encoded: str) -> bytes:
    if not encoded:
        raise InvalidIntegrityError(sri, "the digest is empty")
    if not _BASE64.fullmatch(encoded):
        raise InvalidIntegrityError(sri, "the digest is not standard base64 (A-Z a-z 0-9 + / =)")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise InvalidIntegrityError(sri, f"the digest is not valid base64: {error}") from None
    # Non-zero padding bits would let many strings name one digest; insist on
    # the canonical spelling so a stored integrity compares as text too.
    if base64.b64encode(digest).decode("ascii") != encoded:
        raise InvalidIntegrityError(sri, "the digest is not canonical base64")
    return digest


def compute_sri(data: bytes, algorithm: HashAlgorithm | str = HashAlgorithm.SHA512) -> str:
    """The SRI string of `data` with `algorithm` (sha512 by default, as npm uses)."""
    chosen = _algorithm(algorithm)
    return str(Integrity(chosen, hashlib.new(chosen.value, data).digest()))


def _algorithm(algorithm: HashAlgorithm | str) -> HashAlgorithm:
    try:
        return HashAlgorithm(algorithm)
    except ValueError:
        raise InvalidIntegrityError(
            str(algorithm), f"unsupported algorithm; expected one of {_SUPPORTED}"
        ) from None


class IntegrityHasher:
    """Hash a stream chunk by chunk and compare the result with an expected SRI.

    Built from the expected integrity, so it hashes with the algorithm the
    publisher chose; it never holds more than one chunk in memory.
    """

    def __init__(self, expected: str | Integrity) -> None:
        self.expected = expected if isinstance(expected, Integrity) else parse_integrity(expected)
        self._hash = hashlib.new(self.expected.algorithm.value)
        self._size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Feed the next chunk of the artifact (a memoryview slice avoids copying it)."""
        self._hash.update(chunk)
        self._size += len(chunk)

    @property
    def size(self) -> int:
        """How many bytes have been fed so far."""
        return self._size

    def digest(self) -> bytes:
        """The digest of everything fed so far (feeding may continue afterwards)."""
        return self._hash.copy().digest()

    def actual_sri(self) -> str:
        """The SRI string of everything fed so far, in the expected algorithm."""
        return str(Integrity(self.expected.algorithm, self.digest()))

    def matches(self) -> bool:
        """Whether what was fed hashes to the expected digest (compared in constant time)."""
        return hmac.compare_digest(self.digest(), self.expected.digest)
