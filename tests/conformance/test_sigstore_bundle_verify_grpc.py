"""Every case of `../shared/conformance/sigstore-bundle-verify` through VerifyBundle over gRPC.

One running security process (see conftest `security_grpc`) verifies every
case as a client would ask it: the bundle JSON, the artifact (or the DSSE
envelope alone), the case's trusted root (else the service's public-good
root) and its managed key or keyless identity and issuer. A `_fail` case
must be REJECTED or refused as INVALID_ARGUMENT; every other case must be
VERIFIED. The service verifies with its Node.js adapter, so that adapter's
known misses (tests/conformance/test_sigstore_bundle_verify.py) stay strict
xfails here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import grpc
import pytest

from portico.security.v1 import provenance_pb2 as pb
from portico.security.v1 import provenance_pb2_grpc as pb_grpc
from portico.security.v1 import security_pb2

from .corpora import SIGSTORE_CASES
from .test_sigstore_bundle_verify import CASES, IDENTITY, ISSUER, KNOWN_MISSES

pytestmark = pytest.mark.integration

TENANT = "acme"
MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def request_for(case: Path) -> pb.VerifyBundleRequest:
    """The VerifyBundle request a case asks for."""
    request = pb.VerifyBundleRequest(
        tenant_id=TENANT, bundle_json=(case / "bundle.sigstore.json").read_bytes()
    )
    if (case / "artifact").exists():
        request.artifact = (case / "artifact").read_bytes()
    elif "dsse" in case.name or "intoto" in case.name:
        request.dsse_envelope = True
    else:
        request.artifact = (SIGSTORE_CASES / "a.txt").read_bytes()
    if (case / "trusted_root.json").exists():
        request.trusted_root_json = (case / "trusted_root.json").read_bytes()
    if (case / "key.pub").exists():
        request.public_key_pem = (case / "key.pub").read_text()
    else:
        identity = case / "identity"
        issuer = case / "issuer"
        request.keyless.identity = identity.read_text().strip() if identity.exists() else IDENTITY
        request.keyless.issuer = issuer.read_text().strip() if issuer.exists() else ISSUER
    return request


Answer = pb.VerifyBundleResponse | grpc.aio.AioRpcError
_ANSWERS: dict[tuple[str, str], Answer] = {}


async def answers(target: str) -> dict[str, Answer]:
    """Every case's answer from the running service, asked once, a few at a time."""
    if not any(key[0] == target for key in _ANSWERS):
        limit = asyncio.Semaphore(4)
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.ProvenanceServiceStub(channel)

            async def ask(case: str) -> Answer:
                async with limit:
                    try:
                        return await stub.VerifyBundle(
                            request_for(SIGSTORE_CASES / case), timeout=120
                        )
                    except grpc.aio.AioRpcError as exc:
                        return exc

            got = await asyncio.gather(*(ask(case) for case in CASES))
        _ANSWERS.update({(target, case): a for case, a in zip(CASES, got, strict=True)})
    return {case: a for (t, case), a in _ANSWERS.items() if t == target}


def params() -> list[object]:
    out = []
    for case in CASES:
        reason = KNOWN_MISSES["node"].get(case)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        out.append(pytest.param(case, marks=marks, id=case))
    return out


@pytest.mark.parametrize("case", params())
async def test_bundle_case_over_grpc(security_grpc: str, case: str) -> None:
    """A `_fail` case is REJECTED or INVALID_ARGUMENT with a reason; every other case VERIFIED."""
    answer = (await answers(security_grpc))[case]
    if isinstance(answer, grpc.aio.AioRpcError):
        assert case.endswith("_fail"), f"{case}: {answer.code()} {answer.details()}"
        assert answer.code() == grpc.StatusCode.INVALID_ARGUMENT, answer.details()
        assert answer.details()
    elif case.endswith("_fail"):
        assert answer.verdict == security_pb2.VERDICT_REJECTED
        assert answer.failure_kind
        assert answer.detail
    else:
        assert answer.verdict == security_pb2.VERDICT_VERIFIED, f"{case}: {answer.detail}"
        assert (answer.failure_kind, answer.detail) == ("", "")
        assert answer.key_hint or answer.signer_issuer


async def test_keyless_case_reports_signer_and_dsse_payload(security_grpc: str) -> None:
    """A verified keyless DSSE bundle reports the certificate's identity, issuer and payload."""
    case = next(c for c in CASES if c.startswith("happy-path-intoto-in-dsse"))
    answer = (await answers(security_grpc))[case]
    assert isinstance(answer, pb.VerifyBundleResponse)
    assert (answer.signer_identity, answer.signer_issuer) == (IDENTITY, ISSUER)
    assert answer.payload_type == "application/vnd.in-toto+json"
    assert b'"_type"' in answer.payload


def _valid(**changes: object) -> pb.VerifyBundleRequest:
    request = request_for(SIGSTORE_CASES / "happy-path-v0.3")
    for name, value in changes.items():
        if name == "keyless_issuer":
            request.keyless.issuer = str(value)
        else:
            setattr(request, name, value)
    return request


BAD_INPUT = {
    "malformed bundle JSON": (_valid(bundle_json=b'{"mediaType": '), "bundle is not JSON"),
    "bundle not an object": (_valid(bundle_json=b"[1, 2]"), "bundle is not a JSON object"),
    "wrong media type": (
        _valid(bundle_json=b'{"mediaType": "application/json"}'),
        "unsupported bundle media type 'application/json'",
    ),
    "trusted root not JSON": (_valid(trusted_root_json=b"{root"), "trusted root is not JSON"),
    "public key not PEM": (
        _valid(public_key_pem="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"),
        "public key is not a PEM public key",
    ),
    "keyless without issuer": (_valid(keyless_issuer=""), "needs both identity and issuer"),
    "bad tenant": (_valid(tenant_id="Not A Tenant!"), "tenant"),
}


async def test_bad_input_is_invalid_argument_and_changes_nothing(
    security_grpc: str, security_database: str
) -> None:
    """Bad bundles, media types, roots, keys or policies are INVALID_ARGUMENT; nothing is stored."""
    conn = await asyncpg.connect(security_database)
    try:
        count = (
            "SELECT (SELECT count(*) FROM security.verifications)"
            " + (SELECT count(*) FROM security.outbox)"
        )
        before = await conn.fetchval(count)
        async with grpc.aio.insecure_channel(security_grpc) as channel:
            stub = pb_grpc.ProvenanceServiceStub(channel)
            for what, (request, reason) in BAD_INPUT.items():
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await stub.VerifyBundle(request, timeout=30)
                assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, what
                assert reason in (raised.value.details() or ""), what
            valid = await stub.VerifyBundle(_valid(), timeout=60)
        assert valid.verdict == security_pb2.VERDICT_VERIFIED
        assert await conn.fetchval(count) == before
    finally:
        await conn.close()
