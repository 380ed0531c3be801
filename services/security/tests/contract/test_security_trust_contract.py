"""One contract for both adapters of the trust store: advisories, trust policies, verdicts and
the publisher key lookup, in memory and on PostgreSQL.

The trust use-case unit tests trust the in-memory adapters; every behaviour below holds for
both. Keys are registered the way each backend's registry is filled: in memory into the trust
state, on PostgreSQL through verification's own repository.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend
from portico_security.testing.artifacts import Publisher
from portico_security.trust.adapters.memory import TrustMemoryStore
from portico_security.trust.adapters.registry_signals import NoSignals
from portico_security.trust.app.advisories import ImportOutcome, import_advisories, match_advisories
from portico_security.trust.app.ports import RawDocument, TrustUowFactory
from portico_security.trust.app.scoring import (
    ScorePlugin,
    get_trust_policy,
    score_plugin,
    set_trust_weights,
)
from portico_security.trust.domain.osv import parse_osv
from portico_security.trust.domain.scores import PublisherEvidence, TrustWeights
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey

from .conftest import T0

OSV = {
    "id": "GHSA-int-0001",
    "modified": "2026-01-01T00:00:00Z",
    "published": "2025-12-01T00:00:00Z",
    "aliases": ["CVE-2026-0001"],
    "summary": "Prototype pollution",
    "affected": [
        {
            "package": {"ecosystem": "npm", "name": "@acme/plugin"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}],
        }
    ],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
}


@dataclass(frozen=True)
class Backend:
    """A trust unit-of-work factory, and how to put a key into the registry it reads."""

    uow: TrustUowFactory
    register_key: Callable[[PublisherKey], Awaitable[None]]


def memory_backend(clock: ManualClock) -> Backend:
    store = TrustMemoryStore(clock)

    async def register(key: PublisherKey) -> None:
        store.state.keys[key.tenant_id, key.key_id] = key

    return Backend(store.uow_factory(), register)


@pytest.fixture
def trust_pg_backend(trust_pg: TrustUowFactory, verification_pg: VerificationUowFactory) -> Backend:
    async def register(key: PublisherKey) -> None:
        async with verification_pg(key.tenant_id) as tx:
            assert await tx.publisher_keys.add(key)

    return Backend(trust_pg, register)


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    return contract_backend(
        request, memory=lambda: memory_backend(clock), postgres="trust_pg_backend"
    )


def key(tenant_id: str, key_id: str, age: timedelta) -> PublisherKey:
    return PublisherKey(
        tenant_id=tenant_id,
        publisher="acme",
        key_id=key_id,
        algorithm=KeyAlgorithm.ED25519,
        public_key_pem=Publisher(name="acme", key_id=key_id).public_key_pem,
        created_at=T0 - age,
    )


async def test_import_then_match(backend: Backend) -> None:
    """An imported advisory is found for a tenant, with severity and fixed version; a replay
    changes nothing, and the fixed version no longer matches."""
    results = await import_advisories(backend.uow, [RawDocument("a.json", json.dumps(OSV))])
    again = await import_advisories(backend.uow, [RawDocument("a.json", json.dumps(OSV))])
    matches = await match_advisories(backend.uow, "acme", "@acme/plugin", "1.1.0")
    assert [r.outcome for r in results + again] == [ImportOutcome.CREATED, ImportOutcome.UNCHANGED]
    (match,) = matches
    assert (match.advisory_id, match.aliases, match.severity.label, match.upgrade_to) == (
        "GHSA-int-0001",
        ("CVE-2026-0001",),
        "CRITICAL",
        "1.2.0",
    )
    assert await match_advisories(backend.uow, "acme", "@acme/plugin", "1.2.0") == []


async def test_update_replaces_the_packages_an_advisory_names(backend: Backend) -> None:
    """A newer version of an advisory naming another package stops matching the old one."""
    await import_advisories(backend.uow, [RawDocument("a.json", json.dumps(OSV))])
    moved = json.loads(json.dumps(OSV))
    moved["modified"] = "2026-02-01T00:00:00Z"
    moved["affected"][0]["package"]["name"] = "other"
    (result,) = await import_advisories(backend.uow, [RawDocument("a2.json", json.dumps(moved))])
    assert result.outcome is ImportOutcome.UPDATED
    assert await match_advisories(backend.uow, "acme", "@acme/plugin", "1.1.0") == []
    found = await match_advisories(backend.uow, "acme", "other", "1.1.0")
    assert [m.package for m in found] == ["other"]


async def test_a_tenant_transaction_cannot_write_advisories(backend: Backend) -> None:
    """Advisories are platform data: a tenant's unit of work may read them, never write."""
    with pytest.raises((RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)):
        async with backend.uow("acme") as tx:
            await tx.advisories.save([parse_osv(OSV, "t")], T0)
    async with backend.uow("acme") as tx:
        assert await tx.advisories.for_packages(["@acme/plugin"]) == []


async def test_verdict_round_trips_for_its_tenant_only(backend: Backend) -> None:
    """A stored verdict reads back equal, breakdown and all, and another tenant cannot see it."""
    await import_advisories(backend.uow, [RawDocument("a.json", json.dumps(OSV))])
    verdict = await score_plugin(
        backend.uow,
        NoSignals(),
        ScorePlugin("acme", "@acme/plugin", "1.1.0", PublisherEvidence(signature_verified=True)),
    )
    async with backend.uow("acme") as tx:
        stored = await tx.trust_verdicts.get("acme", verdict.score_id)
    async with backend.uow("globex") as tx:
        hidden = await tx.trust_verdicts.get("acme", verdict.score_id)
    assert stored == verdict
    assert hidden is None
    assert [f.name for f in verdict.trust.factors] == [
        "publisher",
        "security_history",
        "community",
        "quality",
        "update_cadence",
    ]


async def test_policies_are_per_tenant(backend: Backend) -> None:
    """One tenant's weights are its own; another tenant keeps the defaults and cannot read them,
    while a platform unit of work can."""
    set_to = await set_trust_weights(backend.uow, "acme", TrustWeights(publisher=90))
    assert await get_trust_policy(backend.uow, "acme") == set_to
    assert not (await get_trust_policy(backend.uow, "globex")).customized
    async with backend.uow("globex") as tx:
        assert await tx.trust_policies.get("acme") is None
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.trust_policies.get("acme") == set_to


async def test_a_tenant_cannot_write_another_tenants_policy(backend: Backend) -> None:
    """Writing a policy row of another tenant fails as row-level security's WITH CHECK does."""
    set_to = await set_trust_weights(backend.uow, "acme", TrustWeights(publisher=90))
    with pytest.raises((RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)):
        async with backend.uow("globex") as tx:
            await tx.trust_policies.put(set_to)


async def test_key_lookup_sees_the_tenants_registered_keys_only(backend: Backend) -> None:
    """A registered key is found by its tenant, and by no other tenant."""
    registered = key("acme", "acme-2025", timedelta(days=400))
    await backend.register_key(registered)
    async with backend.uow("acme") as tx:
        assert await tx.publisher_keys.get("acme", "acme-2025") == registered
        assert await tx.publisher_keys.get("acme", "nope") is None
    async with backend.uow("globex") as tx:
        assert await tx.publisher_keys.get("acme", "acme-2025") is None


async def test_key_age_comes_from_the_registry(backend: Backend) -> None:
    """A key registered 400 days ago gives the publisher factor its age (15 points)."""
    await backend.register_key(key("acme", "acme-2025", timedelta(days=400)))
    verdict = await score_plugin(
        backend.uow, NoSignals(), ScorePlugin("acme", "@acme/plugin", "1.1.0", key_id="acme-2025")
    )
    publisher = next(f for f in verdict.trust.factors if f.name == "publisher")
    assert [(e.value, e.points) for e in publisher.evidence if e.signal == "key_age_days"] == [
        ("400", 15)
    ]
