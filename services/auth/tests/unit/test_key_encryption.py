"""Private signing keys are sealed with AES-GCM under the key-encryption key."""

from __future__ import annotations

import pytest

from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.errors import ConfigurationError, SigningKeyError

KEK = "k" * 32
PRIVATE = bytes(range(32))


def test_a_sealed_key_opens_with_the_same_kek() -> None:
    """What is sealed under a KEK opens under the same KEK and kid."""
    sealed = KeyEncryptor(KEK).seal("kid-1", PRIVATE)
    assert KeyEncryptor(KEK).open("kid-1", sealed) == PRIVATE


def test_the_sealed_form_does_not_contain_the_key() -> None:
    """The stored bytes are ciphertext, fresh each time, never the raw key."""
    encryptor = KeyEncryptor(KEK)
    first, second = encryptor.seal("kid-1", PRIVATE), encryptor.seal("kid-1", PRIVATE)
    assert PRIVATE not in first
    assert first != second
    assert len(first) == 1 + 12 + 32 + 16


def test_another_kek_cannot_open_it() -> None:
    """A different key-encryption key fails with an error that names the setting."""
    sealed = KeyEncryptor(KEK).seal("kid-1", PRIVATE)
    with pytest.raises(SigningKeyError, match="PORTICO_AUTH_KEY_ENCRYPTION_KEY"):
        KeyEncryptor("x" * 32).open("kid-1", sealed)


def test_a_sealed_key_is_bound_to_its_kid() -> None:
    """A ciphertext moved to another key id's row does not open."""
    sealed = KeyEncryptor(KEK).seal("kid-1", PRIVATE)
    with pytest.raises(SigningKeyError, match="kid-2"):
        KeyEncryptor(KEK).open("kid-2", sealed)


@pytest.mark.parametrize("sealed", [b"", b"\x02" + b"\x00" * 60, b"\x01" + b"\x00" * 12])
def test_an_unknown_format_is_refused(sealed: bytes) -> None:
    """Bytes of another version or too short to be a sealed key are refused."""
    with pytest.raises(SigningKeyError, match="format"):
        KeyEncryptor(KEK).open("kid-1", sealed)


def test_a_tampered_ciphertext_is_refused() -> None:
    """Flipping one ciphertext bit fails authentication."""
    sealed = bytearray(KeyEncryptor(KEK).seal("kid-1", PRIVATE))
    sealed[20] ^= 1
    with pytest.raises(SigningKeyError, match="cannot be decrypted"):
        KeyEncryptor(KEK).open("kid-1", bytes(sealed))


def test_a_short_kek_secret_is_a_configuration_error() -> None:
    """A KEK secret under 32 characters is refused before anything is encrypted with it."""
    with pytest.raises(ConfigurationError, match="at least 32"):
        KeyEncryptor("too-short")
