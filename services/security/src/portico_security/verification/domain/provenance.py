"""Provenance of an npm package: what its verified attestations say, and whether it holds.

Pure logic, no I/O. Signatures, certificates and transparency-log proofs are
checked by a Sigstore verifier (an adapter behind the `BundleVerifier` port);
this module reads what such a verifier returns: the in-toto statement of a
DSSE envelope and the identity of its signer. It checks the statement's
subject against the tarball (sha512 and package URL) and reads the builder,
the source repository and commit, and the SLSA build level reached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from portico_security.verification.domain.verification import Check, Verdict, VerificationReport

PUBLISH_PREDICATE = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
SLSA_V02_PREDICATE = "https://slsa.dev/provenance/v0.2"
SLSA_V1_PREDICATE = "https://slsa.dev/provenance/v1"
SLSA_PREDICATES = (SLSA_V02_PREDICATE, SLSA_V1_PREDICATE)
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
BUNDLE_MEDIA_TYPES = (
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
)
GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
# Reusable workflows of the SLSA GitHub generator: the build runs isolated
# from the calling workflow, which cannot forge the provenance (SLSA Build L3).
SLSA_GITHUB_GENERATOR = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"


@dataclass(frozen=True)
class ManagedKey:
    """A public key trusted for bundles signed without a certificate.

    `key_id` matches the bundle's key hint; None trusts the key whatever the
    hint says (the one key of a managed-key verification). A key with
    `expires` only vouches for signatures logged before that instant.
    """

    key_id: str | None
    spki_der: bytes
    expires: datetime | None = None


@dataclass(frozen=True)
class TrustConfig:
    """What verification trusts: a Sigstore trusted root (JSON) and managed keys."""

    trusted_root_json: str
    keys: tuple[ManagedKey, ...] = ()


@dataclass(frozen=True)
class BundleRequest:
    """One Sigstore bundle to verify.

    `bundle` is the bundle's parsed JSON (or its raw text when it is not
    JSON: the verifier then reports it malformed). `artifact` None means the
    bundle's DSSE envelope is verified on its own. `identity`/`issuer` are
    the certificate policy of keyless bundles.
    """

    bundle: Any
    artifact: bytes | None = None
    identity: str | None = None
    issuer: str | None = None


@dataclass(frozen=True)
class BundleOutcome:
    """What a verifier found. `kind` says why it failed: malformed, verification, policy, input."""

    ok: bool
    kind: str = ""
    message: str = ""
    signer_identity: str = ""
    signer_issuer: str = ""
    key_hint: str = ""
    payload_type: str = ""
    payload: bytes = b""


@dataclass(frozen=True)
class Statement:
    type: str
    subjects: tuple[tuple[str, dict[str, str]], ...]
    predicate_type: str
    predicate: dict[str, Any]


@dataclass(frozen=True)
class BuildInfo:
    builder_id: str = ""
    build_type: str = ""
    source_repository: str = ""
    source_commit: str = ""


@dataclass(frozen=True)
class AttestationResult:
    """One attestation's result: passed, or the precise reason it did not."""

    predicate_type: str
    passed: bool
    detail: str
    signer_identity: str = ""
    signer_issuer: str = ""
    key_id: str = ""


@dataclass(frozen=True)
class ProvenanceReport:
    """The verdict on a package's attestations, with what the provenance says."""

    verified: bool
    attestations: tuple[AttestationResult, ...]
    build: BuildInfo = field(default_factory=BuildInfo)
    slsa_build_level: int = 0
    predicate_type: str = ""


class InvalidStatementError(ValueError):
    """A verified DSSE payload is not a usable in-toto statement."""


def npm_purl(name: str, version: str) -> str:
    """The package URL of an npm package (`@` of a scope percent-encoded, as npm writes it)."""
    return f"pkg:npm/{quote(name, safe='/')}@{quote(version, safe='')}"


def parse_statement(payload_type: str, payload: bytes) -> Statement:
    """The in-toto statement of a DSSE payload; ValueError says precisely what is wrong."""
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise InvalidStatementError(f"payload type {payload_type!r} is not {INTOTO_PAYLOAD_TYPE!r}")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidStatementError(f"statement is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidStatementError("statement is not a JSON object")
    kind = doc.get("_type")
    if kind not in STATEMENT_TYPES:
        raise InvalidStatementError(f"statement type {kind!r} is not an in-toto statement")
    raw_subjects = doc.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise InvalidStatementError("statement has no subject")
    subjects: list[tuple[str, dict[str, str]]] = []
    for item in raw_subjects:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidStatementError("statement subject has no name")
        digest = item.get("digest")
        if not isinstance(digest, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in digest.items()
        ):
            raise InvalidStatementError(f"subject {item['name']!r} has no digest map")
        subjects.append((item["name"], dict(digest)))
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise InvalidStatementError("statement has no predicateType")
    predicate = doc.get("predicate", {})
    if not isinstance(predicate, dict):
        raise InvalidStatementError("statement predicate is not a JSON object")
    return Statement(kind, tuple(subjects), predicate_type, predicate)


def subject_problem(statement: Statement, purl: str, sha512_hex: str) -> str | None:
    """None if a subject names this package URL with this sha512; otherwise what differs."""
    for name, digest in statement.subjects:
        if unquote(name) != unquote(purl):
            continue
        claimed = digest.get("sha512")
        if claimed is None:
            return f"subject {name!r} has no sha512 digest"
        if claimed.lower() != sha512_hex:
            return (
                f"subject {name!r} sha512 {claimed[:16]}… differs"
                f" from the tarball's {sha512_hex[:16]}…"
            )
        return None
    names = ", ".join(repr(name) for name, _ in statement.subjects)
    return f"no subject is {purl!r} (subjects: {names})"


def _text(doc: Any, *path: str) -> str:
    for key in path:
        if not isinstance(doc, dict):
            return ""
        doc = doc.get(key)
    return doc if isinstance(doc, str) else ""


def _repository(uri: str) -> str:
    """`git+https://github.com/o/r@refs/heads/main` -> `https://github.com/o/r`."""
    uri = uri.removeprefix("git+")
    return uri.split("@", 1)[0] if "@" in uri.split("://", 1)[-1] else uri


def build_info(statement: Statement) -> BuildInfo:
    """Builder, build type, source repository and commit of a SLSA provenance (v0.2 or v1)."""
    p = statement.predicate
    if statement.predicate_type == SLSA_V02_PREDICATE:
        uri = _text(p, "invocation", "configSource", "uri")
        commit = _text(p, "invocation", "configSource", "digest", "sha1")
        return BuildInfo(
            builder_id=_text(p, "builder", "id"),
            build_type=_text(p, "buildType"),
            source_repository=_repository(uri) if uri else "",
            source_commit=commit or _text(p, "invocation", "environment", "GITHUB_SHA"),
        )
    if statement.predicate_type == SLSA_V1_PREDICATE:
        repository = _text(p, "buildDefinition", "externalParameters", "workflow", "repository")
        commit = ""
        deps = p.get("buildDefinition", {}).get("resolvedDependencies")
        if isinstance(deps, list):
            for dep in deps:
                if not isinstance(dep, dict):
                    continue
                uri = _text(dep, "uri")
                if not repository and uri:
                    repository = _repository(uri)
                commit = _text(dep, "digest", "gitCommit") or _text(dep, "digest", "sha1")
                if commit:
                    break
        return BuildInfo(
            builder_id=_text(p, "runDetails", "builder", "id"),
            build_type=_text(p, "buildDefinition", "buildType"),
            source_repository=repository,
            source_commit=commit,
        )
    return BuildInfo()


def slsa_build_level(signer_identity: str, signer_issuer: str) -> int:
    """The SLSA Build level a verified provenance reaches, judged by who signed it.

    The signer, not the provenance's own claims, decides: L3 when the SLSA
    GitHub generator's isolated reusable workflow signed it; L2 when another
    GitHub Actions workflow on the hosted build platform signed it (signed,
    platform-generated provenance); L1 for any other verified signer.
    """
    if signer_issuer == GITHUB_ACTIONS_ISSUER:
        if signer_identity.startswith(SLSA_GITHUB_GENERATOR):
            return 3
        return 2
    return 1


# The name of VerifyArtifact's provenance check (secure install looks for it).
PROVENANCE_CHECK = "provenance"


def provenance_check(report: ProvenanceReport | None, problem: str = "") -> Check:
    """VerifyArtifact's provenance check: a report's verdict in one sentence, or `problem`."""
    if report is None:
        return Check(PROVENANCE_CHECK, passed=False, detail=problem)
    if report.verified:
        build = report.build
        return Check(
            PROVENANCE_CHECK,
            passed=True,
            detail=(
                f"publish attestation and SLSA provenance verified: SLSA Build"
                f" L{report.slsa_build_level}, built by {build.builder_id}"
                f" from {build.source_repository}@{build.source_commit}"
            ),
        )
    failed = "; ".join(
        f"{a.predicate_type}: {a.detail}" for a in report.attestations if not a.passed
    )
    return Check(PROVENANCE_CHECK, passed=False, detail=f"provenance rejected: {failed}")


def with_check(report: VerificationReport, check: Check) -> VerificationReport:
    """`report` with one more check, its verdict recomputed over all of them."""
    checks = (*report.checks, check)
    verified = all(c.passed for c in checks)
    return VerificationReport(
        verdict=Verdict.VERIFIED if verified else Verdict.REJECTED, checks=checks
    )
