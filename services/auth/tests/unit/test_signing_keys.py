"""Signing keys: identity by thumbprint, which one signs, which ones are published."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest

from portico_auth.domain.signing_keys import (
    KeyPolicy,
    SigningKey,
    active_key,
    needs_new_key,
    published_keys,
    retired_keys,
)
from portico_auth.errors import SigningKeyError

# RFC 8037 appendix A.1 (private key) and A.3 (its RFC 7638 thumbprint).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _rfc_key(t0: datetime) -> SigningKey:
    raw = base64.urlsafe_b64decode(RFC8037_D + "=")
    return SigningKey.from_private_bytes(raw, created_at=t0, not_after=t0 + timedelta(days=1))


def test_the_key_id_is_the_rfc7638_thumbprint(t0: datetime) -> None:
    """The kid of RFC 8037's example key is the thumbprint RFC 8037 gives for it."""
    assert _rfc_key(t0).kid == RFC8037_KID


def test_the_published_jwk_is_public_only(t0: datetime) -> None:
    """The JWK for the JWKS has the public members, alg Ed25519 and use sig, and no 'd'."""
    assert _rfc_key(t0).public_jwk() == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC8037_X,
        "kid": RFC8037_KID,
        "alg": "Ed25519",
        "use": "sig",
    }


def test_a_key_round_trips_through_its_private_bytes(signing_key: SigningKey) -> None:
    """Rebuilding a key from its stored bytes and kid gives the same key."""
    again = SigningKey.from_private_bytes(
        signing_key.private_bytes(),
        created_at=signing_key.created_at,
        not_after=signing_key.not_after,
        kid=signing_key.kid,
    )
    assert again == signing_key
    assert again.public_jwk() == signing_key.public_jwk()


def test_a_stored_key_under_the_wrong_kid_is_refused(signing_key: SigningKey, t0: datetime) -> None:
    """Private bytes that do not hash to the stored kid are treated as corruption."""
    with pytest.raises(SigningKeyError, match="does not match"):
        SigningKey.from_private_bytes(
            signing_key.private_bytes(), created_at=t0, not_after=t0 + timedelta(1), kid=RFC8037_KID
        )


def test_malformed_private_bytes_are_refused(t0: datetime) -> None:
    """Bytes that are not a 32-byte Ed25519 seed are refused with a clear error."""
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        SigningKey.from_private_bytes(b"short", created_at=t0, not_after=t0 + timedelta(1))


def test_the_repr_does_not_show_the_private_key(signing_key: SigningKey) -> None:
    """Logging a key shows its id and times, never key material."""
    text = repr(signing_key)
    assert signing_key.kid in text
    assert "jwk" not in text


def test_no_key_means_one_is_needed(t0: datetime, key_policy: KeyPolicy) -> None:
    """With no keys at all nothing signs and a key is needed."""
    assert active_key([], t0) is None
    assert needs_new_key([], t0, key_policy)


def test_a_fresh_key_signs_and_needs_no_successor(
    signing_key: SigningKey, t0: datetime, key_policy: KeyPolicy
) -> None:
    """A key just created signs and is not due for rotation."""
    assert active_key([signing_key], t0) == signing_key
    assert not needs_new_key([signing_key], t0, key_policy)


def test_a_successor_is_due_before_the_key_stops_signing(
    signing_key: SigningKey, key_policy: KeyPolicy
) -> None:
    """Within rotate_before of not_after a successor is due, though the key still signs."""
    almost = signing_key.not_after - key_policy.rotate_before
    assert active_key([signing_key], almost) == signing_key
    assert needs_new_key([signing_key], almost, key_policy)
    assert not needs_new_key([signing_key], almost - timedelta(seconds=1), key_policy)


def test_the_newest_key_signs_and_the_previous_stays_published(
    signing_key: SigningKey, key_policy: KeyPolicy
) -> None:
    """After rotation the successor signs, and both keys are in the JWKS during the overlap."""
    rotated_at = signing_key.not_after - key_policy.rotate_before
    successor = SigningKey.generate(rotated_at, key_policy)
    keys = [signing_key, successor]
    assert active_key(keys, rotated_at) == successor
    after_old_stops = signing_key.not_after + timedelta(minutes=1)
    assert [k.kid for k in published_keys(keys, after_old_stops, key_policy)] == [
        successor.kid,
        signing_key.kid,
    ]


def test_a_key_is_retired_once_its_last_token_has_expired(
    signing_key: SigningKey, key_policy: KeyPolicy
) -> None:
    """At not_after + overlap a key leaves the JWKS and counts as retired."""
    gone = signing_key.not_after + key_policy.overlap
    assert published_keys([signing_key], gone - timedelta(seconds=1), key_policy) == [signing_key]
    assert published_keys([signing_key], gone, key_policy) == []
    assert retired_keys([signing_key], gone, key_policy) == [signing_key]


def test_a_key_policy_must_rotate_inside_the_lifetime() -> None:
    """rotate_before must be positive and shorter than the key's lifetime."""
    with pytest.raises(ValueError, match="rotate_before"):
        KeyPolicy(lifetime=timedelta(hours=1), rotate_before=timedelta(hours=2))
    with pytest.raises(ValueError, match="rotate_before"):
        KeyPolicy(rotate_before=timedelta(0))
