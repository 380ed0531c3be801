"""npm registry signatures: ECDSA P-256 over `NAME@VERSION:INTEGRITY` with the registry's keys.

The keys come in the format of `https://registry.npmjs.org/-/npm/v1/keys`:
`{"keys": [{"keyid", "keytype", "scheme", "key", "expires"}]}` with `key` the
base64 DER SubjectPublicKeyInfo. Expiry is honoured as npm does: a key is
valid only for packages published strictly before its `expires` (null: no
expiry). Parsing and verifying are `cryptography`'s.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from portico_security.verification.domain.signatures import (
    KeyAlgorithm,
    check_key_type,
    signed_message,
    verify_signature,
)
from portico_security.verification.errors import InvalidPublicKeyError, InvalidRegistryKeysError

# npm's only key type and scheme so far; anything else is refused, not guessed at.
NPM_KEYTYPE = "ecdsa-sha2-nistp256"
NPM_SCHEME = "ecdsa-sha2-nistp256"
MAX_KEYS_DOCUMENT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RegistryKey:
    """One of the registry's signing keys."""

    key_id: str
    public_key: EllipticCurvePublicKey
    expires: datetime | None


@dataclass(frozen=True, slots=True)
class RegistryKeys:
    """A registry's published keys, by key id."""

    keys: tuple[RegistryKey, ...]

    def get(self, key_id: str) -> RegistryKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)


def parse_registry_keys(document: str | bytes) -> RegistryKeys:
    """Parse an npm keys document, or raise InvalidRegistryKeysError naming the problem."""
    if len(document) > MAX_KEYS_DOCUMENT:
        raise InvalidRegistryKeysError(f"the document is over {MAX_KEYS_DOCUMENT} bytes")
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRegistryKeysError(f"not JSON: {error}") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InvalidRegistryKeysError('expected an object with a "keys" array')
    keys = tuple(_parse_key(index, entry) for index, entry in enumerate(entries))
    ids = [key.key_id for key in keys]
    duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
    if duplicates:
        raise InvalidRegistryKeysError(f"duplicate keyid(s): {', '.join(duplicates)}")
    return RegistryKeys(keys)


def _parse_key(index: int, entry: object) -> RegistryKey:
    where = f"keys[{index}]"
    if not isinstance(entry, dict):
        raise InvalidRegistryKeysError(f"{where} is not an object")
    fields = {}
    for name in ("keyid", "keytype", "scheme", "key"):
        value = entry.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidRegistryKeysError(f"{where}.{name} must be a non-empty string")
        fields[name] = value
    if fields["keytype"] != NPM_KEYTYPE or fields["scheme"] != NPM_SCHEME:
        raise InvalidRegistryKeysError(
            f"{where} ({fields['keyid']}) is {fields['keytype']}/{fields['scheme']}; "
            f"only {NPM_KEYTYPE} is supported"
        )
    try:
        der = base64.b64decode(fields["key"], validate=True)
        loaded = serialization.load_der_public_key(der)
        check_key_type(loaded, KeyAlgorithm.ECDSA_P256)
    except (binascii.Error, ValueError, UnsupportedAlgorithm, InvalidPublicKeyError) as error:
        raise InvalidRegistryKeysError(f"{where}.key does not decode: {error}") from None
    if not isinstance(loaded, EllipticCurvePublicKey):  # pragma: no cover - checked above
        raise InvalidRegistryKeysError(f"{where}.key is not an elliptic-curve key")
    public_key = loaded
    return RegistryKey(fields["keyid"], public_key, _expires(where, entry.get("expires")))


def _expires(where: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRegistryKeysError(f"{where}.expires must be null or an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRegistryKeysError(f"{where}.expires {value!r} is not ISO 8601") from None
    if moment.utcoffset() is None:
        raise InvalidRegistryKeysError(f"{where}.expires {value!r} has no time zone")
    return moment


def registry_signature_problem(
    keys: RegistryKeys | None,
    *,
    name: str,
    version: str,
    integrity: str,
    key_id: str,
    signature: bytes,
    published_at: datetime,
) -> str | None:
    """Why the registry signature does not vouch for `name@version`, or None if it does."""
    if keys is None or not keys.keys:
        return "no npm registry keys are configured"
    if not key_id:
        return "the registry signature names no keyid"
    key = keys.get(key_id)
    if key is None:
        known = ", ".join(k.key_id for k in keys.keys)
        return f"unknown npm registry keyid {key_id!r} (known: {known})"
    if key.expires is not None and published_at >= key.expires:
        return (
            f"npm registry key {key_id!r} expired at {key.expires.isoformat()}; "
            f"the package was published at {published_at.isoformat()}, not before it"
        )
    message = signed_message(name, version, integrity)
    if not verify_signature(key.public_key, message, signature):
        shown = message.decode("utf-8", errors="replace")
        return f"the registry signature over {shown!r} does not verify under {key_id!r}"
    return None
