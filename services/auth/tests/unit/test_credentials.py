"""Client secrets are stored as salted scrypt hashes and checked against them."""

from __future__ import annotations

import pytest

from portico_auth.domain.credentials import (
    ScryptCost,
    burn_verification_time,
    hash_secret,
    verify_secret,
)

SECRET = "correct-horse-battery-staple"


def test_the_right_secret_verifies() -> None:
    """A secret verifies against its own hash."""
    assert verify_secret(SECRET, hash_secret(SECRET)) is True


@pytest.mark.parametrize(
    "attempt", ["", "correct-horse-battery-stapl", SECRET + " ", SECRET.upper()]
)
def test_a_wrong_secret_does_not_verify(attempt: str) -> None:
    """Any other secret, however close, does not verify."""
    assert verify_secret(attempt, hash_secret(SECRET)) is False


def test_each_hash_has_its_own_salt() -> None:
    """Hashing one secret twice gives different hashes that both verify."""
    first, second = hash_secret(SECRET), hash_secret(SECRET)
    assert first != second
    assert verify_secret(SECRET, first)
    assert verify_secret(SECRET, second)


def test_the_stored_form_names_the_cost_and_hides_the_secret() -> None:
    """The stored form is scrypt's PHC-like string and does not contain the secret."""
    encoded = hash_secret(SECRET, salt=b"\x00" * 16)
    assert encoded.startswith("scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$")
    assert SECRET not in encoded


def test_the_cost_is_read_from_the_stored_hash() -> None:
    """A hash made with another cost still verifies, so the cost can change later."""
    encoded = hash_secret(SECRET, ScryptCost(log2_n=10, r=4, p=1))
    assert encoded.startswith("scrypt$ln=10,r=4,p=1$")
    assert verify_secret(SECRET, encoded)


def test_a_tampered_hash_does_not_verify() -> None:
    """Changing one character of the stored digest makes the right secret fail."""
    encoded = hash_secret(SECRET)
    # A middle character: the last one of unpadded base64 partly encodes padding bits.
    i = len(encoded) - 10
    flipped = encoded[:i] + ("A" if encoded[i] != "A" else "B") + encoded[i + 1 :]
    assert verify_secret(SECRET, flipped) is False


@pytest.mark.parametrize("stored", ["", "plaintext-secret", "bcrypt$2b$12$abc", "scrypt$ln=14$x$y"])
def test_a_malformed_stored_hash_is_an_error_not_a_mismatch(stored: str) -> None:
    """Corrupt stored data raises instead of passing as a wrong secret."""
    with pytest.raises(ValueError, match="scrypt"):
        verify_secret(SECRET, stored)


def test_burning_time_for_an_unknown_client_runs_a_real_check() -> None:
    """The decoy check for unknown clients completes for any secret without raising."""
    burn_verification_time(SECRET)
    burn_verification_time("")
