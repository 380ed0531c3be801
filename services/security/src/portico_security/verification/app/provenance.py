"""Use cases of provenance verification, and the Sigstore verifier port they need.

`verify_npm_provenance` checks BOTH of npm's attestations of a package (the
publish attestation, signed by the npm registry's key, and the SLSA
provenance, keyless through Sigstore public-good): each bundle must verify
offline against the configured trusted root, carry an in-toto statement of
the declared predicate type, and name the tarball (sha512) and the package
URL as its subject. A provenance-only check would pass a package whose
publish attestation was tampered with; this one rejects it.

Verifying is read-only: nothing is stored or emitted, so hostile input can
only ever produce a precise error or a REJECTED report.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from portico_common.npm import require_package_name, require_version
from portico_common.tenants import require_tenant_id
from portico_security.verification.app.ports import BundleVerifier
from portico_security.verification.domain.provenance import (
    BUNDLE_MEDIA_TYPES,
    PUBLISH_PREDICATE,
    SLSA_PREDICATES,
    AttestationResult,
    BuildInfo,
    BundleOutcome,
    BundleRequest,
    ProvenanceReport,
    Statement,
    TrustConfig,
    build_info,
    npm_purl,
    parse_statement,
    slsa_build_level,
    subject_problem,
)
from portico_security.verification.errors import MalformedAttestationsError

# npm serves two attestations per package; a document far larger is hostile.
MAX_ATTESTATIONS = 8
MAX_ATTESTATIONS_BYTES = 1024 * 1024


def parse_attestations(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(declared predicate type, bundle) pairs of npm's `{"attestations": [...]}` document."""
    if len(raw) > MAX_ATTESTATIONS_BYTES:
        raise MalformedAttestationsError(f"larger than {MAX_ATTESTATIONS_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedAttestationsError(f"not JSON ({exc})") from None
    items = doc.get("attestations") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise MalformedAttestationsError('no "attestations" list')
    if len(items) > MAX_ATTESTATIONS:
        raise MalformedAttestationsError(f"more than {MAX_ATTESTATIONS} attestations")
    pairs: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedAttestationsError(f"attestation {index} is not an object")
        predicate_type, bundle = item.get("predicateType"), item.get("bundle")
        if not isinstance(predicate_type, str) or not predicate_type:
            raise MalformedAttestationsError(f"attestation {index} has no predicateType")
        if not isinstance(bundle, dict):
            raise MalformedAttestationsError(f"attestation {index} has no bundle object")
        pairs.append((predicate_type, bundle))
    return pairs


@dataclass(frozen=True)
class _Expected:
    purl: str
    sha512_hex: str
    name: str
    version: str


class _NotPassedError(Exception):
    """Why one attestation did not pass (internal control flow of `_judge`)."""


def _judge(
    declared: str, bundle: dict[str, Any], outcome: BundleOutcome | None, expected: _Expected
) -> tuple[AttestationResult, Statement | None]:
    try:
        outcome, statement = _check(declared, bundle, outcome, expected)
    except _NotPassedError as exc:
        return AttestationResult(declared, False, str(exc), key_id=bundle_hint(bundle)), None
    if declared == PUBLISH_PREDICATE:
        detail = f"signed by npm registry key {outcome.key_hint}"
    else:
        detail = f"signed by {outcome.signer_identity} ({outcome.signer_issuer})"
    result = AttestationResult(
        declared,
        True,
        detail,
        signer_identity=outcome.signer_identity,
        signer_issuer=outcome.signer_issuer,
        key_id=outcome.key_hint,
    )
    return result, statement


def _check(
    declared: str, bundle: dict[str, Any], outcome: BundleOutcome | None, expected: _Expected
) -> tuple[BundleOutcome, Statement]:
    media_type = bundle.get("mediaType")
    if media_type not in BUNDLE_MEDIA_TYPES or outcome is None:
        raise _NotPassedError(f"unsupported bundle media type {media_type!r}")
    if not outcome.ok:
        raise _NotPassedError(f"signature not verified ({outcome.kind}): {outcome.message}")
    try:
        statement = parse_statement(outcome.payload_type, outcome.payload)
    except ValueError as exc:
        raise _NotPassedError(f"verified envelope holds no usable statement: {exc}") from None
    if statement.predicate_type != declared:
        raise _NotPassedError(
            f"statement predicate type {statement.predicate_type!r}"
            f" is not the declared {declared!r}"
        )
    problem = subject_problem(statement, expected.purl, expected.sha512_hex)
    if problem is not None:
        raise _NotPassedError(problem)
    if declared == PUBLISH_PREDICATE:
        if not outcome.key_hint:
            raise _NotPassedError("publish attestation is not signed by a registry key")
        claimed = (statement.predicate.get("name"), statement.predicate.get("version"))
        if claimed != (expected.name, expected.version):
            raise _NotPassedError(f"publish attestation names {claimed[0]}@{claimed[1]}")
    elif not outcome.signer_identity:
        raise _NotPassedError("provenance is not signed by a Sigstore certificate identity")
    return outcome, statement


def bundle_hint(bundle: dict[str, Any]) -> str:
    material = bundle.get("verificationMaterial")
    key = material.get("publicKey") if isinstance(material, dict) else None
    hint = key.get("hint") if isinstance(key, dict) else None
    return hint if isinstance(hint, str) else ""


async def verify_npm_provenance(
    verifier: BundleVerifier,
    trust: TrustConfig,
    *,
    tenant_id: str,
    plugin: str,
    version: str,
    tarball: bytes,
    attestations: bytes,
) -> ProvenanceReport:
    """The provenance report of an npm tarball; raises only for input that cannot be judged."""
    require_tenant_id(tenant_id)
    require_package_name(plugin, "plugin")
    require_version(version, "version")
    pairs = parse_attestations(attestations)
    expected = _Expected(
        npm_purl(plugin, version), hashlib.sha512(tarball).hexdigest(), plugin, version
    )
    # Only bundles of a known media type reach the verifier.
    to_verify = [i for i, (_, b) in enumerate(pairs) if b.get("mediaType") in BUNDLE_MEDIA_TYPES]
    outcomes = await verifier.verify([BundleRequest(bundle=pairs[i][1]) for i in to_verify], trust)
    by_index = dict(zip(to_verify, outcomes, strict=True))

    results: list[AttestationResult] = []
    provenance: tuple[AttestationResult, Statement] | None = None
    for index, (declared, bundle) in enumerate(pairs):
        result, statement = _judge(declared, bundle, by_index.get(index), expected)
        results.append(result)
        if statement is not None and declared in SLSA_PREDICATES and provenance is None:
            provenance = (result, statement)
    declared_types = [declared for declared, _ in pairs]
    for needed, label in ((PUBLISH_PREDICATE, "publish attestation"), (None, "SLSA provenance")):
        present = (
            needed in declared_types
            if needed
            else any(t in SLSA_PREDICATES for t in declared_types)
        )
        if not present:
            results.append(AttestationResult(needed or SLSA_PREDICATES[-1], False, f"no {label}"))
    verified = all(r.passed for r in results)
    if provenance is None:
        return ProvenanceReport(verified=False, attestations=tuple(results))
    result, statement = provenance
    return ProvenanceReport(
        verified=verified,
        attestations=tuple(results),
        build=build_info(statement) if verified else BuildInfo(),
        slsa_build_level=slsa_build_level(result.signer_identity, result.signer_issuer)
        if verified
        else 0,
        predicate_type=statement.predicate_type,
    )
