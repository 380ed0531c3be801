"""AdvisoryService and TrustService over gRPC on the real security process."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from portico.security.v1 import trust_pb2 as pb
from portico.security.v1 import trust_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def osv(adv_id: str, package: str, fixed: str) -> dict[str, Any]:
    return {
        "id": adv_id,
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": package},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
    }


FEED = [osv("GHSA-feed-0001", "lodash", "4.17.21"), osv("GHSA-feed-0002", "@acme/plugin", "2.0.0")]


class Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(FEED).encode() if self.path == "/osv/npm.json" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: test output stays readable."""


@pytest.fixture
def feed_url() -> Iterator[str]:
    """A local OSV feed (a JSON array) the service is configured to read."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/osv/npm.json"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def service_env(feed_url: str, tmp_path: Path) -> dict[str, str]:
    """The service reads the local feed and a signals file for @acme/plugin."""
    now = datetime.now(UTC)
    signals = {
        "@acme/plugin": {
            "weekly_downloads": 20_000,
            "dependents": 50,
            "stars": 300,
            "contributors": 5,
            "has_tests": True,
            "has_ci": True,
            "has_docs": True,
            "license": "Apache-2.0",
            "repository": "https://github.com/acme/plugin",
            "releases": [
                {
                    "version": f"1.{i}.0",
                    "published_at": (now - timedelta(days=20 + 40 * i)).isoformat(),
                }
                for i in range(5)
            ],
        }
    }
    path = tmp_path / "signals.json"
    path.write_text(json.dumps(signals))
    return {
        "PORTICO_ADVISORY_FEED_URL": feed_url,
        "PORTICO_REGISTRY_SIGNALS_FILE": str(path),
    }


@pytest.fixture
async def channel(security_service: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(security_service) as channel:
        yield channel


async def test_import_match_and_score_over_grpc(
    channel: grpc.aio.Channel, admin: asyncpg.Connection
) -> None:
    """Feed + inline import, then matches and a stored five-factor score, all over gRPC."""
    advisories = pb_grpc.AdvisoryServiceStub(channel)
    trust = pb_grpc.TrustServiceStub(channel)
    inline = json.dumps(osv("GHSA-inline-0001", "left-pad", "1.3.0"))
    imported = await advisories.ImportAdvisories(
        pb.ImportAdvisoriesRequest(documents=[inline], from_configured_sources=True)
    )
    assert sorted((r.advisory_id, r.outcome) for r in imported.results) == [
        ("GHSA-feed-0001", pb.IMPORT_OUTCOME_CREATED),
        ("GHSA-feed-0002", pb.IMPORT_OUTCOME_CREATED),
        ("GHSA-inline-0001", pb.IMPORT_OUTCOME_CREATED),
    ]

    matches = await advisories.ListAdvisoryMatches(
        pb.ListAdvisoryMatchesRequest(
            tenant_id="acme",
            plugin="@acme/plugin",
            version="1.4.0",
            dependencies=[
                pb.PackageVersion(name="lodash", version="4.17.20"),
                pb.PackageVersion(name="left-pad", version="1.3.0"),
            ],
        )
    )
    assert [(m.advisory_id, m.direct, m.upgrade_to, m.severity.label) for m in matches.matches] == [
        ("GHSA-feed-0002", True, "2.0.0", "CRITICAL"),
        ("GHSA-feed-0001", False, "4.17.21", "CRITICAL"),
    ]

    scored = await trust.ScoreTrust(
        pb.ScoreTrustRequest(
            tenant_id="acme",
            plugin="@acme/plugin",
            version="1.4.0",
            publisher=pb.PublisherEvidence(signature_verified=True, identity_verified=True),
            dependencies=[pb.PackageVersion(name="lodash", version="4.17.20")],
        )
    )
    factors = {f.name: f for f in scored.factors}
    assert list(factors) == [
        "publisher",
        "security_history",
        "community",
        "quality",
        "update_cadence",
    ]
    # Open CRITICAL (-60) and a CRITICAL dependency advisory (-30).
    assert factors["security_history"].score == 10
    assert factors["publisher"].score == 45
    assert any(e.scorecard_check == "Vulnerabilities" for e in factors["security_history"].evidence)
    weighted = sum(f.score * f.weight for f in scored.factors)
    assert scored.score == (2 * weighted + 100) // 200  # default weights sum to 100
    row = await admin.fetchrow(
        "SELECT score, inputs_digest FROM security.trust_scores WHERE plugin = '@acme/plugin'"
    )
    assert row is not None
    assert (row["score"], row["inputs_digest"]) == (scored.score, scored.inputs_digest)
    stored = await trust.GetTrustScore(
        pb.GetTrustScoreRequest(tenant_id="acme", score_id=scored.score_id)
    )
    assert stored.verdict == scored
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trust.GetTrustScore(
            pb.GetTrustScoreRequest(tenant_id="globex", score_id=scored.score_id)
        )
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_bad_batch_over_grpc_is_invalid_argument_and_changes_nothing(
    channel: grpc.aio.Channel, admin: asyncpg.Connection
) -> None:
    """One bad document: INVALID_ARGUMENT naming its path, and no advisory stored."""
    advisories = pb_grpc.AdvisoryServiceStub(channel)
    good = json.dumps(osv("GHSA-good", "left-pad", "1.3.0"))
    bad = json.dumps(osv("GHSA-bad", "left-pad", "one.two"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await advisories.ImportAdvisories(pb.ImportAdvisoriesRequest(documents=[good, bad]))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "documents[1] (GHSA-bad): $.affected[0].ranges[0].events[1].fixed" in (
        caught.value.details() or ""
    )
    assert await admin.fetchval("SELECT count(*) FROM security.advisories") == 0


async def test_weights_over_grpc(channel: grpc.aio.Channel) -> None:
    """SetTrustWeights persists per tenant; GetTrustPolicy shows it; bad weights are refused."""
    trust = pb_grpc.TrustServiceStub(channel)
    default = await trust.GetTrustPolicy(pb.GetTrustPolicyRequest(tenant_id="acme"))
    assert not default.policy.customized
    assert default.policy.weights.publisher == 30
    only_publisher = pb.TrustWeights(publisher=100)
    await trust.SetTrustWeights(pb.SetTrustWeightsRequest(tenant_id="acme", weights=only_publisher))
    stored = await trust.GetTrustPolicy(pb.GetTrustPolicyRequest(tenant_id="acme"))
    other = await trust.GetTrustPolicy(pb.GetTrustPolicyRequest(tenant_id="globex"))
    assert (stored.policy.customized, stored.policy.weights) == (True, only_publisher)
    assert not other.policy.customized
    scored = await trust.ScoreTrust(
        pb.ScoreTrustRequest(
            tenant_id="acme",
            plugin="@acme/plugin",
            version="1.4.0",
            publisher=pb.PublisherEvidence(identity_verified=True),
        )
    )
    assert scored.score == 20
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trust.SetTrustWeights(
            pb.SetTrustWeightsRequest(tenant_id="acme", weights=pb.TrustWeights(quality=101))
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
