"""verify_bundle (VerifyBundle's use case) over a recording fake Sigstore verifier."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from portico_common.errors import PorticoError
from portico_security.testing.provenance import RecordingVerifier
from portico_security.verification.app.bundles import BundleVerification, verify_bundle
from portico_security.verification.domain.provenance import (
    BundleOutcome,
    TrustConfig,
)
from portico_security.verification.errors import InvalidBundleRequestError

DEFAULT = TrustConfig(trusted_root_json='{"mediaType": "default-root"}')
BUNDLE = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": {}}


def asked(**changes: object) -> BundleVerification:
    fields: dict[str, object] = {
        "tenant_id": "acme",
        "bundle_json": json.dumps(BUNDLE).encode(),
        "artifact": b"hello",
        "identity": "https://github.com/acme/x/.github/workflows/r.yml@refs/heads/main",
        "issuer": "https://token.actions.githubusercontent.com",
    }
    fields.update(changes)
    return BundleVerification(**fields)  # type: ignore[arg-type]


async def test_keyless_request_reaches_verifier_with_policy_and_default_root() -> None:
    """A keyless request is verified with its identity, issuer and the service's default root."""
    verifier = RecordingVerifier(BundleOutcome(ok=True, signer_issuer="iss"))
    outcome = await verify_bundle(verifier, DEFAULT, asked())
    [(request, trust)] = verifier.asked
    assert outcome.ok
    assert (request.bundle, request.artifact) == (BUNDLE, b"hello")
    assert request.issuer == "https://token.actions.githubusercontent.com"
    assert trust == TrustConfig(trusted_root_json=DEFAULT.trusted_root_json)


async def test_managed_key_request_trusts_only_that_key_and_given_root() -> None:
    """A managed-key request trusts exactly its PEM key (any hint) under the request's root."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    verifier = RecordingVerifier(BundleOutcome(ok=False, kind="verification", message="bad"))
    outcome = await verify_bundle(
        verifier,
        DEFAULT,
        asked(public_key_pem=pem, artifact=None, trusted_root_json=b'{"own": 1}'),
    )
    [(request, trust)] = verifier.asked
    assert not outcome.ok
    assert (request.identity, request.issuer, request.artifact) == (None, None, None)
    assert trust.trusted_root_json == '{"own": 1}'
    [managed] = trust.keys
    assert managed.key_id is None
    assert managed.spki_der == key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"bundle_json": b"{nope"}, "bundle is not JSON"),
        ({"bundle_json": b'"text"'}, "bundle is not a JSON object"),
        ({"bundle_json": b'{"mediaType": "application/json"}'}, "unsupported bundle media type"),
        ({"bundle_json": b"{}"}, "unsupported bundle media type None"),
        ({"trusted_root_json": b"[1]"}, "trusted root is not a JSON object"),
        ({"trusted_root_json": b"\xff"}, "trusted root is not JSON"),
        ({"public_key_pem": "not a key"}, "public key is not a PEM public key"),
        ({"issuer": None}, "needs both identity and issuer"),
        ({"identity": ""}, "needs both identity and issuer"),
    ],
)
async def test_bad_input_is_refused_before_any_verification(
    changes: dict[str, object], reason: str
) -> None:
    """Input that cannot be judged is an INVALID_ARGUMENT error and the verifier never runs."""
    verifier = RecordingVerifier(BundleOutcome(ok=True))
    with pytest.raises(InvalidBundleRequestError, match=reason) as raised:
        await verify_bundle(verifier, DEFAULT, asked(**changes))
    assert raised.value.code == "INVALID_ARGUMENT"
    assert verifier.asked == []


async def test_invalid_tenant_is_refused_before_any_verification() -> None:
    """A malformed tenant id is refused as INVALID_ARGUMENT before the verifier runs."""
    verifier = RecordingVerifier(BundleOutcome(ok=True))
    with pytest.raises(PorticoError) as raised:
        await verify_bundle(verifier, DEFAULT, asked(tenant_id="Not A Tenant!"))
    assert raised.value.code == "INVALID_ARGUMENT"
    assert verifier.asked == []
