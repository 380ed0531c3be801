"""Provenance verification's app layer and domain with a fake Sigstore verifier (no crypto here)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from portico_common.npm import InvalidPackageNameError, InvalidVersionError
from portico_common.tenants import InvalidTenantIdError
from portico_security.testing.provenance import (
    ACTIONS,
    GENERATOR,
    GENUINE,
    MEDIA,
    NAME,
    SHA512,
    TARBALL,
    TRUST,
    VERSION,
    FakeVerifier,
    attestations,
    statement,
)
from portico_security.verification.adapters.provenance_codec import report_from_json, report_to_json
from portico_security.verification.app.provenance import verify_npm_provenance
from portico_security.verification.domain.provenance import (
    INTOTO_PAYLOAD_TYPE,
    PUBLISH_PREDICATE,
    SLSA_V1_PREDICATE,
    BundleOutcome,
    BundleRequest,
    InvalidStatementError,
    Statement,
    TrustConfig,
    build_info,
    npm_purl,
    parse_statement,
    slsa_build_level,
    subject_problem,
)
from portico_security.verification.errors import (
    MalformedAttestationsError,
    VerifierUnavailableError,
)


async def run(verifier: FakeVerifier, doc: bytes = GENUINE, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "tenant_id": "acme",
        "plugin": NAME,
        "version": VERSION,
        "tarball": TARBALL,
    }
    args.update(overrides)
    return await verify_npm_provenance(verifier, TRUST, attestations=doc, **args)


async def test_both_attestations_verified_give_a_verified_report() -> None:
    """Both attestations passing yields VERIFIED with the provenance's build facts."""
    report = await run(FakeVerifier())
    assert report.verified
    assert [a.passed for a in report.attestations] == [True, True]
    assert report.build.source_repository == "https://github.com/acme/cost"
    assert report.build.source_commit == "a" * 40
    assert report.slsa_build_level == 2


async def test_every_bundle_is_verified_as_dsse_without_an_artifact() -> None:
    """Both bundles reach the verifier, each as a DSSE envelope on its own."""
    verifier = FakeVerifier()
    await run(verifier)
    assert [r.bundle["tag"] for r in verifier.asked] == [PUBLISH_PREDICATE, SLSA_V1_PREDICATE]
    assert all(r.artifact is None for r in verifier.asked)


async def test_tampered_publish_attestation_rejects_even_with_good_provenance() -> None:
    """A failed publish attestation rejects the package although the provenance verified."""
    verifier = FakeVerifier()
    verifier.answers[PUBLISH_PREDICATE] = BundleOutcome(
        ok=False, kind="verification", message="bad sig"
    )
    report = await run(verifier)
    assert not report.verified
    assert report.attestations[0].detail == "signature not verified (verification): bad sig"
    assert report.slsa_build_level == 0


async def test_missing_publish_attestation_rejects() -> None:
    """A document with only the SLSA provenance is rejected for lacking the publish attestation."""
    report = await run(FakeVerifier(), attestations((SLSA_V1_PREDICATE, MEDIA)))
    assert not report.verified
    assert report.attestations[-1].detail == "no publish attestation"


async def test_missing_provenance_rejects() -> None:
    """A document with only the publish attestation is rejected for lacking provenance."""
    report = await run(FakeVerifier(), attestations((PUBLISH_PREDICATE, MEDIA)))
    assert not report.verified
    assert report.attestations[-1].detail == "no SLSA provenance"


async def test_wrong_bundle_media_type_is_rejected_before_verification() -> None:
    """A bundle of an unknown media type is named and never reaches the verifier."""
    verifier = FakeVerifier()
    doc = attestations((PUBLISH_PREDICATE, "application/json"), (SLSA_V1_PREDICATE, MEDIA))
    report = await run(verifier, doc)
    assert not report.verified
    assert report.attestations[0].detail == "unsupported bundle media type 'application/json'"
    assert [r.bundle["tag"] for r in verifier.asked] == [SLSA_V1_PREDICATE]


async def test_other_tarball_is_a_subject_mismatch() -> None:
    """Statements about another tarball's sha512 reject this one, saying which digest differs."""
    report = await run(FakeVerifier(), tarball=b"other bytes")
    assert not report.verified
    assert all("differs from the tarball's" in a.detail for a in report.attestations)


async def test_statement_predicate_type_must_match_declared_type() -> None:
    """A verified statement of another predicate type than declared is rejected."""
    verifier = FakeVerifier()
    verifier.answers[PUBLISH_PREDICATE] = verifier.answers[SLSA_V1_PREDICATE]
    report = await run(verifier)
    assert not report.verified
    assert "is not the declared" in report.attestations[0].detail


async def test_publish_attestation_signed_by_a_certificate_is_rejected() -> None:
    """The publish attestation must be signed by a registry key, not by any keyless identity."""
    verifier = FakeVerifier()
    verifier.answers[PUBLISH_PREDICATE] = BundleOutcome(
        ok=True,
        signer_identity="x",
        payload_type=INTOTO_PAYLOAD_TYPE,
        payload=statement(PUBLISH_PREDICATE),
    )
    report = await run(verifier)
    assert report.attestations[0].detail == "publish attestation is not signed by a registry key"


async def test_wrong_payload_type_is_rejected() -> None:
    """A verified envelope that is not an in-toto payload is rejected naming the payload type."""
    verifier = FakeVerifier()
    verifier.answers[SLSA_V1_PREDICATE] = BundleOutcome(
        ok=True, signer_identity="x", payload_type="text/plain"
    )
    report = await run(verifier)
    assert "payload type 'text/plain'" in report.attestations[1].detail


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"[]", 'no "attestations" list'),
        (b'{"attestations": []}', 'no "attestations" list'),
        (b'{"attestations": [1]}', "attestation 0 is not an object"),
        (b'{"attestations": [{"bundle": {}}]}', "attestation 0 has no predicateType"),
        (
            b'{"attestations": [{"predicateType": "x", "bundle": "b"}]}',
            "attestation 0 has no bundle object",
        ),
        (b" " * (1024 * 1024 + 1), "larger than"),
    ],
)
async def test_malformed_attestations_raise_a_precise_error(doc: bytes, problem: str) -> None:
    """A document that is not npm's attestations list raises an error naming why."""
    verifier = FakeVerifier()
    with pytest.raises(MalformedAttestationsError, match=problem):
        await run(verifier, doc)
    assert verifier.asked == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"tenant_id": "*"}, InvalidTenantIdError),
        ({"plugin": "Not A Name"}, InvalidPackageNameError),
        ({"version": "latest"}, InvalidVersionError),
    ],
)
async def test_invalid_request_fields_are_refused_before_verification(
    overrides: dict[str, str], error: type[Exception]
) -> None:
    """A bad tenant, name or version is refused and nothing is verified."""
    verifier = FakeVerifier()
    with pytest.raises(error):
        await run(verifier, **overrides)
    assert verifier.asked == []


async def test_unavailable_verifier_propagates() -> None:
    """A verifier that cannot run is an error (UNAVAILABLE), never a verdict."""

    class Down(FakeVerifier):
        async def verify(
            self, requests: Sequence[BundleRequest], trust: TrustConfig
        ) -> list[BundleOutcome]:
            raise VerifierUnavailableError("fake", f"no node for {len(requests)} ({trust.keys})")

    with pytest.raises(VerifierUnavailableError) as raised:
        await run(Down())
    assert raised.value.code == "UNAVAILABLE"


def test_scoped_package_url_encodes_the_at_sign() -> None:
    """npm's package URL percent-encodes a scope's @."""
    assert npm_purl("@acme/x", "1.0.0") == "pkg:npm/%40acme/x@1.0.0"
    assert npm_purl("left-pad", "1.3.0") == "pkg:npm/left-pad@1.3.0"


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"\xff", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"_type": "x"}', "not an in-toto statement"),
        (b'{"_type": "https://in-toto.io/Statement/v1"}', "no subject"),
        (
            b'{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a"}]}',
            "no digest map",
        ),
        (
            (
                b'{"_type": "https://in-toto.io/Statement/v1",'
                b' "subject": [{"name": "a", "digest": {}}]}'
            ),
            "no predicateType",
        ),
    ],
)
def test_malformed_statements_say_what_is_wrong(payload: bytes, problem: str) -> None:
    """parse_statement refuses a malformed statement naming the problem."""
    with pytest.raises(InvalidStatementError, match=problem):
        parse_statement(INTOTO_PAYLOAD_TYPE, payload)


def test_subject_without_sha512_is_named() -> None:
    """A subject with only a sha256 digest cannot vouch for the tarball's sha512."""
    s = Statement("t", (("pkg:npm/a@1.0.0", {"sha256": "00"}),), "p", {})
    assert (
        subject_problem(s, "pkg:npm/a@1.0.0", SHA512)
        == "subject 'pkg:npm/a@1.0.0' has no sha512 digest"
    )


def test_v02_provenance_reads_config_source() -> None:
    """A v0.2 provenance's builder, repository (without git+ and ref) and commit are read."""
    s = Statement(
        "t",
        (),
        "https://slsa.dev/provenance/v0.2",
        {
            "builder": {"id": "https://github.com/actions/runner"},
            "buildType": "https://github.com/npm/cli/gha/v2",
            "invocation": {
                "configSource": {
                    "uri": "git+https://github.com/o/r@refs/heads/main",
                    "digest": {"sha1": "b" * 40},
                }
            },
        },
    )
    info = build_info(s)
    assert (info.builder_id, info.source_repository, info.source_commit) == (
        "https://github.com/actions/runner",
        "https://github.com/o/r",
        "b" * 40,
    )


@pytest.mark.parametrize(
    ("identity", "issuer", "level"),
    [
        (GENERATOR, ACTIONS, 3),
        ("https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1", ACTIONS, 2),
        ("someone@example.com", "https://accounts.google.com", 1),
    ],
)
def test_slsa_level_is_earned_by_the_signer(identity: str, issuer: str, level: int) -> None:
    """The SLSA generator's isolated workflow earns L3, other hosted workflows L2, others L1."""
    assert slsa_build_level(identity, issuer) == level


async def test_stored_form_round_trips() -> None:
    """A report written in its stored JSON form reads back equal; an unknown version is refused."""
    report = await run(FakeVerifier())
    assert report_from_json(json.loads(json.dumps(report_to_json(report)))) == report
    with pytest.raises(ValueError, match="unknown stored provenance report version 2"):
        report_from_json({**report_to_json(report), "v": 2})
