"""Subresource Integrity strings: parsing, streaming verification, computing."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from portico_security.verification.domain.integrity import (
    HashAlgorithm,
    Integrity,
    IntegrityHasher,
    compute_sri,
    parse_integrity,
)
from portico_security.verification.errors import InvalidIntegrityError

EMPTY_SHA512 = (
    "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+"
    "SfaPg=="
)
EMPTY_SHA384 = "sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb"
EMPTY_SHA256 = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
TARBALL = b"package/package.json" + bytes(range(256)) * 40


def test_parse_sha512() -> None:
    """A sha512 SRI parses into its algorithm and 64 raw digest bytes, and prints back unchanged."""
    parsed = parse_integrity(EMPTY_SHA512)
    assert parsed.algorithm is HashAlgorithm.SHA512
    assert parsed.digest == hashlib.sha512(b"").digest()
    assert str(parsed) == EMPTY_SHA512


@pytest.mark.parametrize(
    ("sri", "algorithm"),
    [
        (EMPTY_SHA256, HashAlgorithm.SHA256),
        (EMPTY_SHA384, HashAlgorithm.SHA384),
        (EMPTY_SHA512, HashAlgorithm.SHA512),
    ],
)
def test_parse_each_sha2_algorithm(sri: str, algorithm: HashAlgorithm) -> None:
    """sha256, sha384 and sha512 are the accepted algorithms."""
    assert parse_integrity(sri).algorithm is algorithm


@pytest.mark.parametrize(
    ("sri", "problem"),
    [
        ("", "it is empty"),
        ("sha512", "expected '<algorithm>-<base64 digest>'"),
        ("sha512-", "the digest is empty"),
        ("sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "unsupported algorithm 'sha1'"),
        ("md5-1B2M2Y8AsgTpgAmY7PhCfg==", "unsupported algorithm 'md5'"),
        ("SHA512-" + EMPTY_SHA512[7:], "unsupported algorithm 'SHA512'"),
        ("sha512-abc$def=", "not standard base64"),
        ("sha512-" + EMPTY_SHA512[7:].replace("/", "_"), "not standard base64"),
        ("sha512-" + EMPTY_SHA512[7:-2], "not valid base64"),
        ("sha512-" + EMPTY_SHA256[7:], "a sha512 digest is 64 bytes, this one is 32"),
        ("sha256-" + EMPTY_SHA512[7:], "a sha256 digest is 32 bytes, this one is 64"),
        (EMPTY_SHA512 + " " + EMPTY_SHA384, "expected exactly one hash expression"),
        (" " + EMPTY_SHA512, "expected exactly one hash expression"),
        (EMPTY_SHA512 + "?ct=application/gzip", "SRI options"),
    ],
)
def test_malformed_integrity_is_refused_precisely(sri: str, problem: str) -> None:
    """Each kind of malformed SRI raises InvalidIntegrityError naming the problem."""
    with pytest.raises(InvalidIntegrityError) as caught:
        parse_integrity(sri)
    assert problem in str(caught.value)
    assert caught.value.code == "INVALID_ARGUMENT"


def test_non_canonical_base64_is_refused() -> None:
    """A digest spelled with non-zero padding bits is refused although it decodes."""
    # The last character before `==` carries 4 unused bits; 'g' -> 'h' sets one.
    altered = EMPTY_SHA512.replace("SfaPg==", "SfaPh==")
    assert base64.b64decode(altered[7:]) == hashlib.sha512(b"").digest()
    with pytest.raises(InvalidIntegrityError, match="not canonical base64"):
        parse_integrity(altered)


def test_long_integrity_is_shortened_in_the_message() -> None:
    """An absurdly long integrity is cut in the error message, not echoed whole."""
    with pytest.raises(InvalidIntegrityError) as caught:
        parse_integrity("sha512-" + "A" * 10_000)
    assert len(str(caught.value)) < 300


def test_compute_sri_defaults_to_sha512() -> None:
    """compute_sri uses sha512 unless told otherwise, matching a known vector."""
    assert compute_sri(b"") == EMPTY_SHA512
    assert compute_sri(b"", "sha256") == EMPTY_SHA256
    assert compute_sri(b"", HashAlgorithm.SHA384) == EMPTY_SHA384


def test_compute_sri_refuses_other_algorithms() -> None:
    """compute_sri refuses an algorithm outside SHA-2 with InvalidIntegrityError."""
    with pytest.raises(InvalidIntegrityError, match="unsupported algorithm"):
        compute_sri(b"", "md5")


def test_streamed_chunks_match_whole_digest() -> None:
    """Feeding the tarball in chunks matches the SRI of the whole and reports its size."""
    hasher = IntegrityHasher(compute_sri(TARBALL))
    for start in range(0, len(TARBALL), 1000):
        hasher.update(TARBALL[start : start + 1000])
    assert hasher.matches()
    assert hasher.size == len(TARBALL)
    assert hasher.actual_sri() == compute_sri(TARBALL)


def test_truncated_stream_does_not_match() -> None:
    """A tarball cut short does not match, and its actual SRI shows a different digest."""
    hasher = IntegrityHasher(compute_sri(TARBALL))
    hasher.update(TARBALL[:-1])
    assert not hasher.matches()
    assert hasher.actual_sri() == compute_sri(TARBALL[:-1])


def test_extra_bytes_do_not_match() -> None:
    """A tarball with bytes appended does not match."""
    hasher = IntegrityHasher(compute_sri(TARBALL))
    hasher.update(TARBALL)
    hasher.update(b"\0")
    assert not hasher.matches()


def test_one_flipped_bit_does_not_match() -> None:
    """Changing a single bit of the tarball breaks the match."""
    tampered = bytearray(TARBALL)
    tampered[100] ^= 0x01
    hasher = IntegrityHasher(compute_sri(TARBALL))
    hasher.update(bytes(tampered))
    assert not hasher.matches()


def test_hasher_uses_the_expected_algorithm() -> None:
    """A sha256 expectation is hashed with sha256, so its actual SRI is a sha256 one."""
    hasher = IntegrityHasher(compute_sri(TARBALL, "sha256"))
    hasher.update(TARBALL)
    assert hasher.matches()
    assert hasher.actual_sri().startswith("sha256-")


def test_hasher_accepts_a_parsed_integrity() -> None:
    """An already parsed Integrity serves as the expectation as well as its string."""
    expected = Integrity(HashAlgorithm.SHA512, hashlib.sha512(TARBALL).digest())
    hasher = IntegrityHasher(expected)
    hasher.update(TARBALL)
    assert hasher.matches()


def test_hasher_can_be_fed_after_asking() -> None:
    """Asking for the digest does not end the stream: feeding continues from where it was."""
    hasher = IntegrityHasher(compute_sri(TARBALL))
    hasher.update(TARBALL[:10])
    assert not hasher.matches()
    hasher.update(TARBALL[10:])
    assert hasher.matches()


def test_hasher_refuses_malformed_expectation() -> None:
    """A hasher cannot be built for a malformed SRI."""
    with pytest.raises(InvalidIntegrityError):
        IntegrityHasher("sha512-not base64")


def test_matches_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest comparison goes through hmac.compare_digest."""
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", spy)
    hasher = IntegrityHasher(EMPTY_SHA512)
    assert hasher.matches()
    assert calls == [(hashlib.sha512(b"").digest(), hashlib.sha512(b"").digest())]
