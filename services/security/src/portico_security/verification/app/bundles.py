"""Use case of generic Sigstore bundle verification (VerifyBundle).

The request is checked before any verifier runs: the bundle must be a JSON
object of a known Sigstore bundle media type, the trusted root (when given)
JSON, the managed key a PEM public key, and a keyless policy must name both
identity and issuer. Such input errors are `InvalidBundleRequestError`
(INVALID_ARGUMENT); a bundle that does not verify is a REJECTED outcome.
Verifying is read-only: nothing is stored or emitted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from portico_common.tenants import require_tenant_id
from portico_security.verification.app.ports import BundleVerifier
from portico_security.verification.domain.provenance import (
    BUNDLE_MEDIA_TYPES,
    BundleOutcome,
    BundleRequest,
    ManagedKey,
    TrustConfig,
)
from portico_security.verification.errors import InvalidBundleRequestError

MAX_BUNDLE_BYTES = 4 * 1024 * 1024
MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class BundleVerification:
    """One bundle verification as asked: what to verify and the signer policy."""

    tenant_id: str
    bundle_json: bytes
    artifact: bytes | None
    trusted_root_json: bytes = b""
    public_key_pem: str | None = None
    identity: str | None = None
    issuer: str | None = None


def _bundle(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BUNDLE_BYTES:
        raise InvalidBundleRequestError(f"bundle larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        bundle = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBundleRequestError(f"bundle is not JSON ({exc})") from None
    if not isinstance(bundle, dict):
        raise InvalidBundleRequestError("bundle is not a JSON object")
    media_type = bundle.get("mediaType")
    if media_type not in BUNDLE_MEDIA_TYPES:
        raise InvalidBundleRequestError(f"unsupported bundle media type {media_type!r}")
    return bundle


def _trusted_root(raw: bytes, default: str) -> str:
    if not raw:
        return default
    if len(raw) > MAX_TRUSTED_ROOT_BYTES:
        raise InvalidBundleRequestError(f"trusted root larger than {MAX_TRUSTED_ROOT_BYTES} bytes")
    try:
        text = raw.decode()
        root = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBundleRequestError(f"trusted root is not JSON ({exc})") from None
    if not isinstance(root, dict):
        raise InvalidBundleRequestError("trusted root is not a JSON object")
    return text


def _managed_key(pem: str) -> ManagedKey:
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidBundleRequestError(f"public key is not a PEM public key ({exc})") from None
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return ManagedKey(key_id=None, spki_der=spki)


async def verify_bundle(
    verifier: BundleVerifier, default_trust: TrustConfig, asked: BundleVerification
) -> BundleOutcome:
    """The verifier's outcome for one well-formed request; input errors raise first."""
    require_tenant_id(asked.tenant_id)
    bundle = _bundle(asked.bundle_json)
    root = _trusted_root(asked.trusted_root_json, default_trust.trusted_root_json)
    if asked.public_key_pem is not None:
        trust = TrustConfig(trusted_root_json=root, keys=(_managed_key(asked.public_key_pem),))
        request = BundleRequest(bundle=bundle, artifact=asked.artifact)
    else:
        if not asked.identity or not asked.issuer:
            raise InvalidBundleRequestError(
                "a keyless verification needs both identity and issuer (or give a public key)"
            )
        trust = TrustConfig(trusted_root_json=root)
        request = BundleRequest(
            bundle=bundle, artifact=asked.artifact, identity=asked.identity, issuer=asked.issuer
        )
    [outcome] = await verifier.verify([request], trust)
    return outcome
