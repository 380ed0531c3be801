"""The advisory and trust servicers as `build` wires them over in-memory adapters: platform-only
import, request and response mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from portico.security.v1 import trust_pb2 as pb
from portico_common.grpc.tokens import Claims, current_claims
from portico_security.bootstrap import build
from portico_security.testing.trust import StaticAdvisorySource
from portico_security.testing.world import MemoryWorld
from portico_security.trust.adapters.memory import TrustMemoryStore
from portico_security.trust.app.ports import AdvisorySource, RawDocument
from portico_security.trust.entrypoints.grpc_api import AdvisoryServicer, TrustServicer
from portico_security.trust.errors import InvalidTrustRequestError, PlatformOnlyError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DOC = json.dumps(
    {
        "id": "GHSA-unit-1",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "left-pad"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}],
            }
        ],
    }
)


def claims(tenant: str) -> Claims:
    return Claims(subject="svc", tenant_id=tenant, scopes=(), expires_at=0, token_id="t")


@pytest.fixture
def store(world: MemoryWorld) -> TrustMemoryStore:
    return world.trust


def wired(
    world: MemoryWorld, sources: list[AdvisorySource]
) -> tuple[AdvisoryServicer, TrustServicer]:
    """The two trust servicers exactly as `build` wires them (no registry signals)."""
    parts = build(world.dependencies(advisory_sources=sources))
    advisory, trust = parts.implementation("AdvisoryService"), parts.implementation("TrustService")
    assert isinstance(advisory, AdvisoryServicer)
    assert isinstance(trust, TrustServicer)
    return advisory, trust


@pytest.fixture
def servicers(world: MemoryWorld) -> tuple[AdvisoryServicer, TrustServicer]:
    return wired(world, [StaticAdvisorySource("list", [RawDocument("list#0", DOC)])])


@contextmanager
def as_tenant(tenant: str) -> Iterator[None]:
    """Runs the block as if the interceptor had verified a token for `tenant`."""
    token = current_claims.set(claims(tenant))
    try:
        yield
    finally:
        current_claims.reset(token)


async def test_tenant_token_cannot_import(
    servicers: tuple[AdvisoryServicer, TrustServicer], store: TrustMemoryStore
) -> None:
    """A tenant's token gets PERMISSION_DENIED on ImportAdvisories and nothing is stored."""
    with as_tenant("acme"), pytest.raises(PlatformOnlyError) as caught:
        await servicers[0].ImportAdvisories(pb.ImportAdvisoriesRequest(documents=[DOC]), None)  # type: ignore[arg-type]
    assert caught.value.code == "PERMISSION_DENIED"
    assert store.state.advisories == {}


async def test_platform_token_imports_from_sources(
    servicers: tuple[AdvisoryServicer, TrustServicer],
) -> None:
    """A platform token imports from the configured sources, each result with its origin."""
    request = pb.ImportAdvisoriesRequest(from_configured_sources=True)
    with as_tenant("*"):
        response = await servicers[0].ImportAdvisories(request, None)  # type: ignore[arg-type]
    assert [(r.advisory_id, r.outcome, r.origin) for r in response.results] == [
        ("GHSA-unit-1", pb.IMPORT_OUTCOME_CREATED, "list#0")
    ]


async def test_configured_sources_requested_but_none_configured(world: MemoryWorld) -> None:
    """Asking for configured sources when none exist is an invalid request, not a no-op."""
    servicer, _ = wired(world, [])
    with pytest.raises(InvalidTrustRequestError, match="no advisory directory or feed"):
        await servicer.ImportAdvisories(
            pb.ImportAdvisoriesRequest(from_configured_sources=True),
            None,  # type: ignore[arg-type]
        )


async def test_score_maps_key_time_and_breakdown(
    servicers: tuple[AdvisoryServicer, TrustServicer],
) -> None:
    """The key's registration time reaches the publisher factor; five factors come back."""
    request = pb.ScoreTrustRequest(
        tenant_id="acme",
        plugin="left-pad",
        version="1.0.0",
        publisher=pb.PublisherEvidence(signature_verified=True),
    )
    request.publisher.key_created_at.FromDatetime(datetime(2025, 1, 1, tzinfo=UTC))
    response = await servicers[1].ScoreTrust(request, None)  # type: ignore[arg-type]
    publisher = next(f for f in response.factors if f.name == "publisher")
    key = next(e for e in publisher.evidence if e.signal == "key_age_days")
    assert (key.value, key.points) == ("424", 15)
    assert publisher.score == 40
    assert response.scored_at.ToDatetime(tzinfo=UTC) == T0
    assert len(response.factors) == 5


async def test_set_weights_needs_weights(servicers: tuple[AdvisoryServicer, TrustServicer]) -> None:
    """SetTrustWeights without weights is refused rather than read as all zero."""
    with pytest.raises(InvalidTrustRequestError, match="weights"):
        await servicers[1].SetTrustWeights(pb.SetTrustWeightsRequest(tenant_id="acme"), None)  # type: ignore[arg-type]


async def test_score_maps_the_key_id(
    servicers: tuple[AdvisoryServicer, TrustServicer], store: TrustMemoryStore
) -> None:
    """A key id without a key time is looked up in the tenant's key registry."""
    store.state.keys["acme", "acme-2025"] = SimpleNamespace(created_at=T0 - timedelta(days=40))  # type: ignore[assignment]
    request = pb.ScoreTrustRequest(
        tenant_id="acme",
        plugin="left-pad",
        version="1.0.0",
        publisher=pb.PublisherEvidence(key_id="acme-2025"),
    )
    response = await servicers[1].ScoreTrust(request, None)  # type: ignore[arg-type]
    publisher = next(f for f in response.factors if f.name == "publisher")
    assert [(e.value, e.points) for e in publisher.evidence if e.signal == "key_age_days"] == [
        ("40", 5)
    ]
