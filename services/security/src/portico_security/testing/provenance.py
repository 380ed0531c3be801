"""Stand-ins for the Sigstore verifier port, and the npm attestations they answer for.

`FakeVerifier` answers per predicate type (read from each bundle's `tag`),
as a real verifier would for `GENUINE`, npm's two attestations of
`NAME@VERSION` over `TARBALL`; `RecordingVerifier` answers one outcome for
every bundle. Both record what they were asked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from portico_security.verification.domain.provenance import (
    INTOTO_PAYLOAD_TYPE,
    PUBLISH_PREDICATE,
    SLSA_V1_PREDICATE,
    BundleOutcome,
    BundleRequest,
    TrustConfig,
    npm_purl,
)

NAME, VERSION = "@acme/plugin-cost-insights", "1.2.3"
TARBALL = b"not really a tarball, but bytes with a digest"
SHA512 = hashlib.sha512(TARBALL).hexdigest()
MEDIA = "application/vnd.dev.sigstore.bundle+json;version=0.2"
TRUST = TrustConfig(trusted_root_json="{}")
GENERATOR = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "x_slsa3.yml@refs/tags/v2"
)
ACTIONS = "https://token.actions.githubusercontent.com"


def statement(
    predicate_type: str, *, name: str = NAME, version: str = VERSION, digest: str = SHA512
) -> bytes:
    """An in-toto statement of `predicate_type` naming name@version with that sha512."""
    predicate: dict[str, Any] = {"name": name, "version": version}
    if predicate_type == SLSA_V1_PREDICATE:
        predicate = {
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"repository": "https://github.com/acme/cost"}},
                "resolvedDependencies": [
                    {
                        "uri": "git+https://github.com/acme/cost@refs/tags/v1",
                        "digest": {"gitCommit": "a" * 40},
                    }
                ],
            },
            "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}},
        }
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": npm_purl(name, version), "digest": {"sha512": digest}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    ).encode()


def attestations(*items: tuple[str, str]) -> bytes:
    """npm's document of (predicate type, media type) items; a bundle's tag names its type."""
    return json.dumps(
        {
            "attestations": [
                {"predicateType": t, "bundle": {"mediaType": m, "tag": t}} for t, m in items
            ]
        }
    ).encode()


GENUINE = attestations((PUBLISH_PREDICATE, MEDIA), (SLSA_V1_PREDICATE, MEDIA))


class FakeVerifier:
    """Answers per predicate type (read from the bundle's tag); records what it was asked."""

    name = "fake"

    def __init__(self, answers: dict[str, BundleOutcome] | None = None) -> None:
        self.answers = answers or {
            PUBLISH_PREDICATE: BundleOutcome(
                ok=True,
                key_hint="SHA256:npm",
                payload_type=INTOTO_PAYLOAD_TYPE,
                payload=statement(PUBLISH_PREDICATE),
            ),
            SLSA_V1_PREDICATE: BundleOutcome(
                ok=True,
                signer_identity=(
                    "https://github.com/acme/cost/.github/workflows/release.yml@refs/tags/v1"
                ),
                signer_issuer=ACTIONS,
                payload_type=INTOTO_PAYLOAD_TYPE,
                payload=statement(SLSA_V1_PREDICATE),
            ),
        }
        self.asked: list[BundleRequest] = []

    async def verify(
        self, requests: Sequence[BundleRequest], trust: TrustConfig
    ) -> list[BundleOutcome]:
        if trust is not TRUST:
            raise AssertionError(f"verified against {trust!r}, not the fake's TRUST")
        self.asked.extend(requests)
        return [self.answers[r.bundle["tag"]] for r in requests]


class RecordingVerifier:
    """Answers `outcome` for every bundle and remembers what it was asked."""

    def __init__(self, outcome: BundleOutcome) -> None:
        self.outcome = outcome
        self.asked: list[tuple[BundleRequest, TrustConfig]] = []

    @property
    def name(self) -> str:
        return "recording"

    async def verify(
        self, requests: Sequence[BundleRequest], trust: TrustConfig
    ) -> list[BundleOutcome]:
        self.asked.extend((request, trust) for request in requests)
        return [self.outcome for _ in requests]
