"""slo's delivery log is purged by the kernel's batched retention, on slo's real schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from portico_common.db import ALL_TENANTS, Database
from portico_common.retention import Retention
from portico_slo.bootstrap import retention_rules
from portico_slo.settings import SloSettings

pytestmark = pytest.mark.integration


async def test_finished_deliveries_past_retention_go_and_the_rest_stay(slo_db: Database) -> None:
    """Old delivered/failed/dropped rows go; a recent one and a pending one stay."""
    settings = SloSettings(slo_alerting_retention_seconds=7 * 24 * 3600)
    now = datetime.now(UTC)
    old = now - timedelta(days=8)
    rows = [
        ("old-delivered", "delivered", old),
        ("old-failed", "failed", old),
        ("old-dropped", "dropped", old),
        ("new-delivered", "delivered", now),
        ("old-pending", "pending", None),
    ]
    async with slo_db.transaction(ALL_TENANTS) as conn:
        for notification, state, finished in rows:
            await conn.execute(
                """INSERT INTO alert_deliveries (tenant_id, notification_id, channel_id,
                       notification, state, created_at, finished_at)
                   VALUES ('acme', $1, 'c', $2::jsonb, $3, $4, $5)""",
                notification,
                json.dumps({}),
                state,
                old,
                finished,
            )
    [rule] = retention_rules(settings)
    purged = await Retention(slo_db, [rule], batch_size=2, pause_seconds=0).purge(rule)
    assert purged == 3
    async with slo_db.transaction(ALL_TENANTS) as conn:
        left = await conn.fetch("SELECT notification_id FROM alert_deliveries ORDER BY 1")
    assert [r["notification_id"] for r in left] == ["new-delivered", "old-pending"]
