"""Every package of `../shared/conformance/npm-provenance` through VerifyProvenance over gRPC.

One running security process (see conftest `security_grpc`) verifies the
whole corpus, as a client would ask it: genuine packages are VERIFIED with
both attestations naming the tarball's sha512; `-invalidsigprov` and
`-invalidsigpub` packages are REJECTED at the tampered attestation.
"""

from __future__ import annotations

import asyncio
import json
import tarfile

import grpc
import pytest

from portico.security.v1 import provenance_pb2 as pb
from portico.security.v1 import provenance_pb2_grpc as pb_grpc
from portico.security.v1 import security_pb2

from .corpora import NPM_PROVENANCE

pytestmark = pytest.mark.integration

PACKAGES = sorted(p.name.removesuffix(".tgz") for p in NPM_PROVENANCE.glob("*.tgz"))
TENANT = "acme"
PUBLISH = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
NPM_KEY = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"


def request_for(package: str, *, tarball_of: str | None = None) -> pb.VerifyProvenanceRequest:
    tarball = NPM_PROVENANCE / f"{package}.tgz"
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("package/package.json")
        assert member is not None
        manifest = json.load(member)
    return pb.VerifyProvenanceRequest(
        tenant_id=TENANT,
        plugin=manifest["name"],
        version=manifest["version"],
        tarball=(NPM_PROVENANCE / f"{tarball_of or package}.tgz").read_bytes(),
        attestations_json=(NPM_PROVENANCE / f"{package}.tgz.json").read_bytes(),
    )


_RESPONSES: dict[tuple[str, str], pb.VerifyProvenanceResponse] = {}


async def responses(target: str) -> dict[str, pb.VerifyProvenanceResponse]:
    """Every package's response from the running service, asked once, a few at a time."""
    if not any(key[0] == target for key in _RESPONSES):
        limit = asyncio.Semaphore(4)
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.ProvenanceServiceStub(channel)

            async def ask(package: str) -> pb.VerifyProvenanceResponse:
                async with limit:
                    return await stub.VerifyProvenance(request_for(package), timeout=120)

            answers = await asyncio.gather(*(ask(p) for p in PACKAGES))
        _RESPONSES.update({(target, p): a for p, a in zip(PACKAGES, answers, strict=True)})
    return {p: a for (t, p), a in _RESPONSES.items() if t == target}


def test_corpus_has_every_package() -> None:
    """The npm corpus has the 15 packages: five genuine, each with both tampered variants."""
    assert len(PACKAGES) == 15
    assert sum(not p.endswith(("-invalidsigprov", "-invalidsigpub")) for p in PACKAGES) == 5


@pytest.mark.parametrize("package", PACKAGES)
async def test_package_verdict_over_grpc(security_grpc: str, package: str) -> None:
    """Genuine packages are VERIFIED; tampered ones are REJECTED at the tampered attestation."""
    response = (await responses(security_grpc))[package]
    by_type = {a.predicate_type: a for a in response.attestations}
    publish = by_type.pop(PUBLISH)
    [provenance] = by_type.values()
    if package.endswith("-invalidsigprov"):
        assert response.verdict == security_pb2.VERDICT_REJECTED
        assert (publish.passed, provenance.passed) == (True, False)
        assert "signature not verified" in provenance.detail
        assert response.provenance.slsa_build_level == 0
    elif package.endswith("-invalidsigpub"):
        assert response.verdict == security_pb2.VERDICT_REJECTED
        assert (publish.passed, provenance.passed) == (False, True)
        assert "signature not verified" in publish.detail
        assert response.provenance.slsa_build_level == 0
    else:
        assert response.verdict == security_pb2.VERDICT_VERIFIED, response
        assert response.provenance.verified
        assert publish.key_id == NPM_KEY
        assert provenance.signer_issuer == "https://token.actions.githubusercontent.com"
        assert response.provenance.source_repository.startswith("https://github.com/")
        assert len(response.provenance.source_commit) == 40
        assert response.provenance.slsa_build_level in {2, 3}


async def test_genuine_attestations_of_another_tarball_are_rejected_over_grpc(
    security_grpc: str,
) -> None:
    """A genuine package's attestations do not verify a different tarball: the digest must match."""
    async with grpc.aio.insecure_channel(security_grpc) as channel:
        response = await pb_grpc.ProvenanceServiceStub(channel).VerifyProvenance(
            request_for("supreme-googles-cli-v02-tag", tarball_of="gundam-visor-cli-v1-tag"),
            timeout=60,
        )
    assert response.verdict == security_pb2.VERDICT_REJECTED
    assert len(response.attestations) == 2
    assert all("differs from the tarball's" in a.detail for a in response.attestations)
