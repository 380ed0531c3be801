"""The compat service end to end: gRPC in, PostgreSQL state, CloudEvents on JetStream."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import asyncpg
import grpc
import pytest

from portico.compat.v1 import compat_pb2 as pb
from portico.events.v1 import events_pb2
from portico_common.db import MIGRATOR_ROLE, Database, create_pool
from portico_embedded.testing.fixtures import unique

if TYPE_CHECKING:
    from .conftest import RunningCompat

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"


def tenant() -> str:
    return unique("t").replace("_", "-")


def profile(tenant_id: str, node: str = "20.11.1") -> pb.SetHostProfileRequest:
    return pb.SetHostProfileRequest(
        tenant_id=tenant_id,
        backstage_version="1.31.0",
        node_version=node,
        packages={"@backstage/core-plugin-api": "1.10.0", "react": "18.3.1"},
    )


def check(
    tenant_id: str, node: str = ">=18", react: str = "^18.0.0"
) -> pb.CheckCompatibilityRequest:
    return pb.CheckCompatibilityRequest(
        tenant_id=tenant_id,
        plugin=PLUGIN,
        version="2.3.0",
        engines={"node": node, "backstage": "^1.28.0"},
        peer_dependencies={"react": react},
    )


def as_event_findings(response: pb.CheckCompatibilityResponse) -> list[events_pb2.CompatFinding]:
    return [
        events_pb2.CompatFinding(
            dimension=f.dimension,
            name=f.name,
            required_range=f.required_range,
            host_version=f.host_version,
            satisfied=f.satisfied,
            reason=f.reason,
        )
        for f in response.findings
    ]


async def admin_fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_check_publishes_the_verdict_as_a_cloudevent(compat: RunningCompat) -> None:
    """A compatible check answers over gRPC and lands on JetStream as plugin.compat.checked."""
    acme = tenant()
    await compat.stub.SetHostProfile(profile(acme))
    response = await compat.stub.CheckCompatibility(check(acme))
    assert response.compatible

    (published,) = await compat.compat_events(1)
    assert published.subject == "portico.plugin.compat.checked"
    headers = published.headers
    assert headers["ce-type"] == "plugin.compat.checked"
    assert headers["ce-source"] == "portico/compat"
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-subject"] == f"{PLUGIN}@2.3.0"
    assert headers["portico-tenant"] == acme
    assert headers["Nats-Msg-Id"] == headers["ce-id"]
    event = published.envelope.payload
    assert isinstance(event, events_pb2.CompatChecked)
    assert (event.tenant_id, event.check_id, event.plugin, event.version) == (
        acme,
        response.check_id,
        PLUGIN,
        "2.3.0",
    )
    assert event.compatible
    assert list(event.findings) == as_event_findings(response)


async def test_incompatible_verdict_is_published_and_stored(compat: RunningCompat) -> None:
    """Node too old is a normal answer: compatible=false on the wire, the event and the table."""
    acme = tenant()
    await compat.stub.SetHostProfile(profile(acme))
    response = await compat.stub.CheckCompatibility(check(acme, node=">=22.0.0"))
    assert not response.compatible

    (published,) = await compat.compat_events(1)
    event = published.envelope.payload
    assert isinstance(event, events_pb2.CompatChecked)
    assert not event.compatible
    unmet = [f for f in event.findings if not f.satisfied]
    assert [(f.dimension, f.name, f.host_version, f.reason) for f in unmet] == [
        ("runtime", "node", "20.11.1", "20.11.1 does not satisfy '>=22.0.0'")
    ]
    (row,) = await admin_fetch(
        compat.database_url,
        "SELECT check_id::text, tenant_id, compatible, findings FROM compat.compat_checks",
    )
    assert (row["check_id"], row["tenant_id"], row["compatible"]) == (
        response.check_id,
        acme,
        False,
    )
    assert [f["reason"] for f in json.loads(row["findings"])] == [f.reason for f in event.findings]


async def test_host_profiles_are_isolated_between_tenants(compat: RunningCompat) -> None:
    """Each tenant checks against its own host only; one without a profile is refused."""
    acme, globex = tenant(), tenant()
    await compat.stub.SetHostProfile(profile(acme, node="20.11.1"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await compat.stub.CheckCompatibility(check(globex))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    await compat.stub.SetHostProfile(profile(globex, node="22.2.0"))
    on_acme = await compat.stub.CheckCompatibility(check(acme, node=">=22"))
    on_globex = await compat.stub.CheckCompatibility(check(globex, node=">=22"))
    assert (on_acme.compatible, on_globex.compatible) == (False, True)

    events = await compat.compat_events(2)
    verdicts = {e.headers["portico-tenant"]: e.envelope.payload for e in events}
    assert set(verdicts) == {acme, globex}
    assert [e.envelope.tenant_id for e in events] == [acme, globex]

    # Row-level security, not the WHERE clause: compat's role sees only its tenant's rows.
    pool = await create_pool(compat.service_url, "compat", min_size=1, max_size=1)
    try:
        async with Database(pool, "compat").transaction(globex) as conn:
            profiles = await conn.fetch("SELECT tenant_id, node_version FROM host_profiles")
            checks = await conn.fetch("SELECT tenant_id FROM compat_checks")
    finally:
        await pool.close()
    assert [tuple(r) for r in profiles] == [(globex, "22.2.0")]
    assert [r["tenant_id"] for r in checks] == [globex]


async def test_tenant_tables_force_row_level_security(compat: RunningCompat) -> None:
    """Both tenant tables are under FORCE RLS and owned by the migrator, not compat's role."""
    rows = await admin_fetch(
        compat.database_url,
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  pg_get_userbyid(c.relowner) AS owner
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'compat' AND c.relname IN ('host_profiles', 'compat_checks')
            ORDER BY c.relname""",
    )
    assert [(r["relname"], r["relrowsecurity"], r["relforcerowsecurity"]) for r in rows] == [
        ("compat_checks", True, True),
        ("host_profiles", True, True),
    ]
    assert all(r["owner"] == MIGRATOR_ROLE for r in rows)


async def test_malformed_check_changes_nothing(compat: RunningCompat) -> None:
    """A malformed check is INVALID_ARGUMENT: no row, no outbox entry, nothing published."""
    acme = tenant()
    await compat.stub.SetHostProfile(profile(acme))
    bad = check(acme)
    bad.version = "2.3"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await compat.stub.CheckCompatibility(bad)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid plugin version" in (caught.value.details() or "")
    counts = await admin_fetch(
        compat.database_url,
        """SELECT (SELECT count(*) FROM compat.compat_checks) AS checks,
                  (SELECT count(*) FROM compat.outbox) AS outbox""",
    )
    assert tuple(counts[0]) == (0, 0)

    # The relay publishes in order, so had the bad call emitted, it would come first.
    good = await compat.stub.CheckCompatibility(check(acme))
    events = await compat.compat_events(1)
    payloads = [e.envelope.payload for e in events]
    assert all(isinstance(p, events_pb2.CompatChecked) for p in payloads)
    assert [getattr(p, "check_id", None) for p in payloads] == [good.check_id]
