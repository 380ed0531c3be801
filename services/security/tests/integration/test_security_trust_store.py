"""Advisory and trust repositories on a real PostgreSQL, under row-level security: what only
a superuser or raw SQL can see (the behaviour both adapters share is in tests/contract)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database, Tier
from portico_common.uow import uow_factory
from portico_embedded.testing.databases import placed_tenants
from portico_security.trust.adapters.postgres import TrustPgUnitOfWork
from portico_security.trust.adapters.registry_signals import NoSignals
from portico_security.trust.app.advisories import (
    RawDocument,
    import_advisories,
    match_advisories,
)
from portico_security.trust.app.scoring import (
    ScorePlugin,
    TrustUowFactory,
    get_trust_policy,
    score_plugin,
    set_trust_weights,
)
from portico_security.trust.domain.osv import parse_osv
from portico_security.trust.domain.scores import PublisherEvidence, TrustWeights
from portico_security.trust.errors import InvalidAdvisoryBatchError
from portico_security.verification.adapters.postgres import PgPublisherKeyRepository
from portico_security.verification.domain.signatures import KeyAlgorithm, PublisherKey

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
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


@pytest.fixture
def uow(security_db: Database) -> TrustUowFactory:
    clock = ManualClock(T0)
    return uow_factory(
        security_db, lambda conn, tenant: TrustPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )


async def test_bad_batch_leaves_the_table_empty(
    uow: TrustUowFactory, admin: asyncpg.Connection
) -> None:
    """A batch with one bad document stores nothing, seen by a superuser."""
    with pytest.raises(InvalidAdvisoryBatchError, match="nothing imported"):
        await import_advisories(
            uow, [RawDocument("a.json", json.dumps(OSV)), RawDocument("b.json", "{}")]
        )
    assert await admin.fetchval("SELECT count(*) FROM security.advisories") == 0


async def test_tenant_transaction_cannot_write_advisories(security_db: Database) -> None:
    """Row-level security refuses an advisory insert from a tenant's transaction."""
    advisory = parse_osv(OSV, "t")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with security_db.transaction("acme") as conn:
            await TrustPgUnitOfWork(conn, tenant_id="acme", clock=ManualClock(T0)).advisories.save(
                [advisory], T0
            )


async def test_tenant_transaction_cannot_delete_advisories(
    uow: TrustUowFactory, security_db: Database, admin: asyncpg.Connection
) -> None:
    """A tenant's DELETE touches no advisory row; a platform transaction could."""
    await import_advisories(uow, [RawDocument("a.json", json.dumps(OSV))])
    async with security_db.transaction("acme") as conn:
        await conn.execute("DELETE FROM advisories")
    assert await admin.fetchval("SELECT count(*) FROM security.advisories") == 1
    async with security_db.transaction(ALL_TENANTS) as conn:
        await conn.execute("DELETE FROM advisories")
    assert await admin.fetchval("SELECT count(*) FROM security.advisories") == 0


async def test_verdict_round_trips_with_its_breakdown(
    uow: TrustUowFactory, admin: asyncpg.Connection
) -> None:
    """The stored verdict reads back equal, and the row holds all five factors."""
    await import_advisories(uow, [RawDocument("a.json", json.dumps(OSV))])
    verdict = await score_plugin(
        uow,
        NoSignals(),
        ScorePlugin("acme", "@acme/plugin", "1.1.0", PublisherEvidence(signature_verified=True)),
    )
    async with uow("acme") as tx:
        stored = await tx.trust_verdicts.get("acme", verdict.score_id)
    async with uow("globex") as tx:
        hidden = await tx.trust_verdicts.get("acme", verdict.score_id)
    assert stored == verdict
    assert hidden is None
    row = await admin.fetchrow(
        "SELECT score, factors FROM security.trust_scores WHERE score_id = $1",
        uuid.UUID(verdict.score_id),
    )
    assert row is not None
    assert row["score"] == verdict.trust.score
    assert [f["name"] for f in json.loads(row["factors"])] == [
        "publisher",
        "security_history",
        "community",
        "quality",
        "update_cadence",
    ]


async def test_policies_are_per_tenant(uow: TrustUowFactory, security_db: Database) -> None:
    """One tenant's weights are invisible to another, even without a WHERE clause."""
    await set_trust_weights(uow, "acme", TrustWeights(publisher=90))
    assert (await get_trust_policy(uow, "acme")).weights.publisher == 90
    assert not (await get_trust_policy(uow, "globex")).customized
    async with security_db.transaction("globex") as conn:
        assert await conn.fetchval("SELECT count(*) FROM trust_policies") == 0


async def test_key_age_read_from_the_registry_table(
    uow: TrustUowFactory, security_db: Database
) -> None:
    """A key registered in publisher_keys gives the publisher factor its age."""
    pem = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    key = PublisherKey(
        tenant_id="acme",
        publisher="acme",
        key_id="acme-2025",
        algorithm=KeyAlgorithm.ED25519,
        public_key_pem=pem,
        created_at=T0 - timedelta(days=400),
    )
    async with security_db.transaction("acme") as conn:
        assert await PgPublisherKeyRepository(conn).add(key)
    verdict = await score_plugin(
        uow, NoSignals(), ScorePlugin("acme", "@acme/plugin", "1.1.0", key_id="acme-2025")
    )
    publisher = next(f for f in verdict.trust.factors if f.name == "publisher")
    assert [(e.value, e.points) for e in publisher.evidence if e.signal == "key_age_days"] == [
        ("400", 15)
    ]


async def test_bridge_and_silo_tenants_are_matched_against_the_shared_advisories(
    security_db: Database, database_url: str
) -> None:
    """Advisories are platform rows in the shared tables: a tenant in its own schema or its own
    database is matched against them as a pool tenant is."""
    clock = ManualClock(T0)
    uow = uow_factory(
        security_db,
        lambda conn, tenant: TrustPgUnitOfWork(
            conn, tenant_id=tenant, clock=clock, shared=security_db
        ),
    )
    await import_advisories(uow, [RawDocument("a.json", json.dumps(OSV))])
    tiers = {"pooled": Tier.POOL, "bridged": Tier.BRIDGE, "siloed": Tier.SILO}
    async with placed_tenants(database_url, {"security": "portico_security.migrations"}, tiers):
        for tenant in tiers:
            matched = await match_advisories(uow, tenant, "@acme/plugin", "1.1.0")
            assert [m.advisory_id for m in matched] == ["GHSA-int-0001"], tenant
