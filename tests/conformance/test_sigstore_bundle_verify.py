"""Sigstore's conformance bundle cases, through both adapters of the BundleVerifier port.

Every case folder of `../shared/conformance/sigstore-bundle-verify` runs: a
name ending `_fail` must be rejected, every other case must verify. Where an
adapter's library gets a case wrong, the case is a strict xfail naming why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from portico_security.verification.adapters.sigstore_node import NodeSigstoreVerifier
from portico_security.verification.adapters.sigstore_python import SigstorePythonVerifier
from portico_security.verification.adapters.sigstore_trust import public_good_trusted_root
from portico_security.verification.app.ports import BundleVerifier
from portico_security.verification.domain.provenance import (
    BundleOutcome,
    BundleRequest,
    ManagedKey,
    TrustConfig,
)
from portico_security.verification.errors import TrustConfigError

from .corpora import NPM_PROVENANCE, SIGSTORE_CASES

IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon"
    "/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
CASES = sorted(p.name for p in SIGSTORE_CASES.iterdir() if p.is_dir())

_MANAGED = "sigstore-python 4.5.1 has no managed-key (public-key hint) bundle verification"
KNOWN_MISSES: dict[str, dict[str, str]] = {
    "sigstore-python": {
        "intoto-with-custom-trust-root": (
            "sigstore-python 4.5.1 rejects it: a known expected failure in its own conformance CI"
        ),
        "trust-root-tsa-validity-end-inclusive": (
            "sigstore-python 4.5.1 treats a TSA validity end as exclusive"
        ),
        "managed-key-happy-path": _MANAGED,
        "managed-key-and-trusted-root": _MANAGED,
    },
    "node": {
        "rekor2-dsse-happy-path": (
            "@sigstore/verify 3.1.1 does not accept a DSSE envelope logged as a Rekor v2"
            " hashedrekord/0.0.2 entry (digest mismatch)"
        ),
        "trust-root-tlog-missing-validity-start_fail": (
            "@sigstore/verify 3.1.1 accepts a trusted-root log key without a validity start"
        ),
    },
}


def verifier_for(adapter: str) -> BundleVerifier:
    if adapter == "node":
        return NodeSigstoreVerifier()
    return SigstorePythonVerifier()


def case_request(case: Path) -> tuple[BundleRequest, TrustConfig] | None:
    """The verification a case asks for; None when its key.pub is not a key at all."""
    text = (case / "bundle.sigstore.json").read_text()
    bundle: Any
    try:
        bundle = json.loads(text)
    except ValueError:
        bundle = text
    root_file = case / "trusted_root.json"
    root = root_file.read_text() if root_file.exists() else public_good_trusted_root()
    artifact: bytes | None
    if (case / "artifact").exists():
        artifact = (case / "artifact").read_bytes()
    elif "dsse" in case.name or "intoto" in case.name:
        artifact = None
    else:
        artifact = (SIGSTORE_CASES / "a.txt").read_bytes()
    keys: tuple[ManagedKey, ...] = ()
    identity: str | None = IDENTITY
    issuer: str | None = ISSUER
    if (case / "key.pub").exists():
        try:
            key = load_pem_public_key((case / "key.pub").read_bytes())
        except ValueError:
            return None
        spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        keys = (ManagedKey(key_id=None, spki_der=spki),)
        identity = issuer = None
    if (case / "identity").exists():
        identity = (case / "identity").read_text().strip()
    if (case / "issuer").exists():
        issuer = (case / "issuer").read_text().strip()
    request = BundleRequest(bundle=bundle, artifact=artifact, identity=identity, issuer=issuer)
    return request, TrustConfig(trusted_root_json=root, keys=keys)


def params() -> list[Any]:
    out = []
    for adapter in ("sigstore-python", "node"):
        for case in CASES:
            reason = KNOWN_MISSES[adapter].get(case)
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            out.append(pytest.param(adapter, case, marks=marks, id=f"{adapter}-{case}"))
    return out


_OUTCOMES: dict[tuple[str, str], BundleOutcome] = {}


async def outcomes(adapter: str) -> dict[str, BundleOutcome]:
    """Every case's outcome with this adapter, computed once (Node.js: in one process)."""
    if not any(key[0] == adapter for key in _OUTCOMES):
        groups: dict[TrustConfig, list[tuple[str, BundleRequest]]] = {}
        for case in CASES:
            made = case_request(SIGSTORE_CASES / case)
            if made is None:  # an unparseable managed key rejects before any verifier
                _OUTCOMES[adapter, case] = BundleOutcome(
                    ok=False, kind="input", message="key.pub is not a public key"
                )
                continue
            request, trust = made
            groups.setdefault(trust, []).append((case, request))
        verifier = verifier_for(adapter)
        if isinstance(verifier, NodeSigstoreVerifier):  # one process for the whole corpus
            pairs = [(r, t) for t, members in groups.items() for _, r in members]
            cases = [c for members in groups.values() for c, _ in members]
            for case, outcome in zip(cases, await verifier.verify_each(pairs), strict=True):
                _OUTCOMES[adapter, case] = outcome
        else:
            for trust, members in groups.items():
                try:
                    results = await verifier.verify([r for _, r in members], trust)
                except TrustConfigError as exc:  # the case's trusted root itself is refused
                    refused = BundleOutcome(ok=False, kind="trust-config", message=str(exc))
                    results = [refused] * len(members)
                for (case, _), outcome in zip(members, results, strict=True):
                    _OUTCOMES[adapter, case] = outcome
    return {case: outcome for (a, case), outcome in _OUTCOMES.items() if a == adapter}


@pytest.mark.parametrize(("adapter", "case"), params())
async def test_bundle_case_gives_expected_result(adapter: str, case: str) -> None:
    """A `_fail` case is rejected and every other case verifies, offline against its root."""
    expected = not case.endswith("_fail")
    outcome = (await outcomes(adapter))[case]
    assert outcome.ok is expected, f"{case}: {outcome.kind} {outcome.message}"
    if not expected:
        assert outcome.kind
        assert outcome.message


def test_corpus_is_where_the_readme_says() -> None:
    """The corpus is read in place from ../shared and has every case the suite relies on."""
    assert len(CASES) >= 60
    assert (NPM_PROVENANCE / "npm-registry-keys.json").is_file()
