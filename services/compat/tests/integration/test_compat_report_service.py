"""The full report through the real compat process (PostgreSQL, JetStream).

The same report through the gateway's HTTP routes is tested in tests/e2e.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest

from portico.compat.v1 import compat_pb2 as pb
from portico.events.v1 import events_pb2
from portico_common.db import Database, create_pool
from portico_embedded.testing.fixtures import unique

if TYPE_CHECKING:
    from .conftest import RunningCompat

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
RELEASE = "1.31.0"
NEW_TABLES = ("host_api_catalogs", "permission_policies", "release_manifests")


def tenant() -> str:
    return unique("t").replace("_", "-")


async def set_up(stub: Any, tenant_id: str) -> None:
    await stub.SetHostProfile(
        pb.SetHostProfileRequest(
            tenant_id=tenant_id,
            backstage_version=RELEASE,
            node_version="20.11.1",
            packages={"@backstage/core-plugin-api": "1.10.0"},
        )
    )
    await stub.SetHostApiCatalog(
        pb.SetHostApiCatalogRequest(
            tenant_id=tenant_id,
            backstage_release=RELEASE,
            apis=[
                pb.HostApi(name="core.discovery", version="1.4.0"),
                pb.HostApi(name="core.identity", version="1.2.0", deprecation="since 1.30"),
            ],
        )
    )
    await stub.SetReleaseManifest(
        pb.SetReleaseManifestRequest(
            tenant_id=tenant_id,
            backstage_release=RELEASE,
            packages={"@backstage/core-plugin-api": "1.10.0"},
        )
    )
    await stub.SetPermissionPolicy(
        pb.SetPermissionPolicyRequest(
            tenant_id=tenant_id,
            rules=[pb.PermissionRule(pattern="catalog.*", decision=pb.PERMISSION_DECISION_ALLOW)],
            default_decision=pb.PERMISSION_DECISION_DENY,
        )
    )


def check(tenant_id: str, version: str = "2.3.0", **changes: Any) -> pb.CheckCompatibilityRequest:
    message = pb.CheckCompatibilityRequest(
        tenant_id=tenant_id,
        plugin=PLUGIN,
        version=version,
        engines={"node": ">=18"},
        peer_dependencies={"@backstage/core-plugin-api": "^1.9.0"},
        consumes=[
            pb.ApiRequirement(name="core.discovery", range="^1.0.0"),
            pb.ApiRequirement(name="core.identity", range="^1.0.0"),
        ],
        permissions=["catalog.entity.read"],
    )
    for name, value in changes.items():
        if isinstance(value, list):
            message.ClearField(name)  # type: ignore[arg-type]
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    return message


async def admin_fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_streamed_report_is_stored_and_published_per_dimension(
    compat: RunningCompat,
) -> None:
    """Each dimension streams, the report is stored, and the event carries every verdict."""
    acme = tenant()
    await set_up(compat.stub, acme)

    replies = [
        r
        async for r in compat.stub.CheckCompatibilityStream(
            pb.CheckCompatibilityStreamRequest(check=check(acme))
        )
    ]

    assert [r.dimension.dimension for r in replies[:4]] == [
        "api",
        "runtime",
        "permissions",
        "resources",
    ]
    report = replies[-1].report
    assert [d.verdict for d in report.dimensions] == [
        pb.VERDICT_WARN,
        pb.VERDICT_PASS,
        pb.VERDICT_PASS,
        pb.VERDICT_PASS,
    ]
    assert report.compatible
    (published,) = await compat.compat_events(1)
    event = published.envelope.payload
    assert isinstance(event, events_pb2.CompatChecked)
    assert [(d.dimension, d.verdict) for d in event.dimensions] == [
        ("api", "warn"),
        ("runtime", "pass"),
        ("permissions", "pass"),
        ("resources", "pass"),
    ]
    (row,) = await admin_fetch(
        compat.database_url, "SELECT dimensions, declared FROM compat.compat_checks"
    )
    assert [d["verdict"] for d in json.loads(row["dimensions"])] == ["warn"] + ["pass"] * 3
    assert json.loads(row["declared"])["permissions"] == ["catalog.entity.read"]


async def test_upgrade_escalation_uses_the_stored_check_of_the_installed_version(
    compat: RunningCompat,
) -> None:
    """A permission the installed version's stored check lacks needs approval on upgrade."""
    acme = tenant()
    await set_up(compat.stub, acme)
    installed = await compat.stub.CheckCompatibility(check(acme, version="2.2.0"))
    assert installed.compatible

    upgrade = await compat.stub.CheckCompatibility(
        check(
            acme,
            permissions=["catalog.entity.read", "catalog.location.create"],
            installed_version="2.2.0",
        )
    )

    permissions = upgrade.dimensions[2]
    assert permissions.verdict == pb.VERDICT_NEEDS_APPROVAL
    assert [f.name for f in permissions.findings if f.verdict == pb.VERDICT_NEEDS_APPROVAL] == [
        "catalog.location.create"
    ]
    assert not upgrade.compatible
    assert upgrade.approval_required


async def test_catalogs_manifests_and_policies_are_isolated_by_row_level_security(
    compat: RunningCompat,
) -> None:
    """The new tables are under FORCE RLS: one tenant's transaction sees only its rows."""
    acme, globex = tenant(), tenant()
    await set_up(compat.stub, acme)
    await set_up(compat.stub, globex)

    rows = await admin_fetch(
        compat.database_url,
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'compat'
              AND c.relname IN ('host_api_catalogs', 'permission_policies', 'release_manifests')
            ORDER BY c.relname""",
    )
    assert [tuple(r) for r in rows] == [(t, True, True) for t in NEW_TABLES]
    pool = await create_pool(compat.service_url, "compat", min_size=1, max_size=1)
    try:
        async with Database(pool, "compat").transaction(globex) as conn:
            seen = {t: await conn.fetch(f"SELECT tenant_id FROM {t}") for t in NEW_TABLES}  # noqa: S608 - fixed names
    finally:
        await pool.close()
    assert {t: [r["tenant_id"] for r in rs] for t, rs in seen.items()} == {
        t: [globex] for t in NEW_TABLES
    }


async def test_bad_manifest_on_the_stream_changes_nothing(compat: RunningCompat) -> None:
    """A malformed manifest is INVALID_ARGUMENT before anything is stored or emitted."""
    acme = tenant()
    await set_up(compat.stub, acme)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in compat.stub.CheckCompatibilityStream(
            pb.CheckCompatibilityStreamRequest(check=check(acme, permissions=["a b"]))
        ):
            pass

    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "contains whitespace" in (caught.value.details() or "")
    counts = await admin_fetch(
        compat.database_url,
        """SELECT (SELECT count(*) FROM compat.compat_checks) AS checks,
                  (SELECT count(*) FROM compat.outbox) AS outbox""",
    )
    assert tuple(counts[0]) == (0, 0)
