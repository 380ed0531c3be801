"""Sigstore bundle verification in-process with sigstore-python (the PyPI package `sigstore`).

The verifier for plain Sigstore bundles (message signatures and DSSE) signed
keylessly: it passes the Sigstore conformance suite's bundle cases but two
(see tests/conformance). It does NOT verify managed-key bundles (no public-key
verification material) nor npm's attestations (their Rekor entries are
intoto/0.0.2, which it refuses: sigstore-python issue 1384); for those use
`sigstore_node.NodeSigstoreVerifier`. Verification is offline: the trusted
root comes from the TrustConfig, and no TUF refresh or Rekor lookup happens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from cryptography.x509 import (
    ExtensionNotFound,
    SubjectAlternativeName,
    UniformResourceIdentifier,
)
from sigstore.errors import Error as SigstoreError
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy
from sigstore_models.trustroot import v1 as trustroot_v1

from portico_security.verification.domain.provenance import (
    BundleOutcome,
    BundleRequest,
    TrustConfig,
)
from portico_security.verification.errors import TrustConfigError


class SigstorePythonVerifier:
    """`BundleVerifier` on sigstore-python, run in a worker thread (it is CPU-bound)."""

    @property
    def name(self) -> str:
        return "sigstore-python"

    async def verify(
        self, requests: Sequence[BundleRequest], trust: TrustConfig
    ) -> list[BundleOutcome]:
        return await asyncio.to_thread(self._verify_all, list(requests), trust)

    def _verify_all(self, requests: list[BundleRequest], trust: TrustConfig) -> list[BundleOutcome]:
        try:
            root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(trust.trusted_root_json))
            verifier = Verifier(trusted_root=root)
        except (SigstoreError, ValueError) as exc:
            raise TrustConfigError(f"trusted root: {exc}") from None
        return [self._verify_one(verifier, request, trust) for request in requests]

    def _verify_one(
        self, verifier: Verifier, request: BundleRequest, trust: TrustConfig
    ) -> BundleOutcome:
        if trust.keys:
            return BundleOutcome(
                ok=False, kind="input", message="managed-key bundles are not supported"
            )
        raw = request.bundle if isinstance(request.bundle, str) else json.dumps(request.bundle)
        try:
            bundle = Bundle.from_json(raw)
        except (SigstoreError, ValueError) as exc:
            return BundleOutcome(ok=False, kind="malformed", message=f"malformed bundle: {exc}")
        chosen: policy.VerificationPolicy
        if request.identity:
            chosen = policy.Identity(identity=request.identity, issuer=request.issuer)
        else:
            chosen = policy.UnsafeNoOp()
        try:
            if request.artifact is None:
                payload_type, payload = verifier.verify_dsse(bundle, chosen)
            else:
                verifier.verify_artifact(request.artifact, bundle, chosen)
                payload_type, payload = "", b""
        except SigstoreError as exc:
            return BundleOutcome(ok=False, kind="verification", message=str(exc))
        except ValueError as exc:  # malformed material found while verifying
            return BundleOutcome(ok=False, kind="malformed", message=str(exc))
        # The issuer is reported only when the policy pinned it (and so checked it).
        return BundleOutcome(
            ok=True,
            signer_identity=request.identity or _identity(bundle),
            signer_issuer=request.issuer or "",
            payload_type=payload_type,
            payload=payload,
        )


def _identity(bundle: Bundle) -> str:
    """The signing certificate's URI identity (SAN), read by `cryptography`; "" if none."""
    try:
        san = bundle.signing_certificate.extensions.get_extension_for_class(SubjectAlternativeName)
    except ExtensionNotFound:
        return ""
    uris = san.value.get_values_for_type(UniformResourceIdentifier)
    return uris[0] if uris else ""
