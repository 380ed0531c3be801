"""A tenancy process killed between a request's effect and its answer: the retry runs nothing.

The answer is held back by a trigger the test installs (storing the response
waits on an advisory lock the test holds), so the process is SIGKILLed at a
known point: the quota change committed, its response not yet stored. The
retry with the same idempotency key, on a fresh process, is refused as
already applied, and the quota change happened exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import grpc
import pytest

from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import ServiceProcess, infra_env

pytestmark = pytest.mark.integration

HOLD = 4242
KEY = (("idempotency-key", "set-quota-1"),)
REQUEST = pb.SetQuotaRequest(
    tenant_id="acme",
    limits=pb.Resources(cpu_millicores=1000, memory_mib=1024, storage_mib=1024),
    max_plugins=5,
)

HOLD_THE_ANSWER = f"""
CREATE FUNCTION tenancy.hold_the_answer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({HOLD});
    RETURN NEW;
END $$;
CREATE TRIGGER hold_the_answer BEFORE UPDATE ON tenancy.idempotency_keys
    FOR EACH ROW WHEN (NEW.state = 'done') EXECUTE FUNCTION tenancy.hold_the_answer();
"""


async def _state(admin: asyncpg.Connection) -> str | None:
    state: str | None = await admin.fetchval(
        "SELECT state FROM tenancy.idempotency_keys WHERE key = 'set-quota-1'"
    )
    return state


async def test_a_retry_after_a_kill_between_effect_and_answer_does_not_run_again(
    database_url: str, service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> None:
    """SIGKILL after the quota committed but before the answer; the retry is ALREADY_EXISTS."""
    env = infra_env(await service_database_url("tenancy"), nats_url)
    admin = await asyncpg.connect(database_url)
    first = ServiceProcess("portico_tenancy", env, tmp_path / "first")
    second = ServiceProcess("portico_tenancy", env, tmp_path / "second")
    try:
        await admin.execute(HOLD_THE_ANSWER)
        await admin.execute("SELECT pg_advisory_lock($1)", HOLD)
        await asyncio.to_thread(first.start)
        async with grpc.aio.insecure_channel(first.target) as channel:
            stub = pb_grpc.TenancyServiceStub(channel)
            await stub.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"), timeout=10)
            call = asyncio.ensure_future(stub.SetQuota(REQUEST, metadata=KEY, timeout=30))
            for _ in range(200):
                if await _state(admin) == "applied":
                    break
                await asyncio.sleep(0.05)
            # The effect committed with its key; the answer waits on the test's lock.
            assert await _state(admin) == "applied"
            await asyncio.to_thread(first.kill)
            with pytest.raises(grpc.aio.AioRpcError) as lost:
                await call
            assert lost.value.code() is grpc.StatusCode.UNAVAILABLE
        await admin.execute("SELECT pg_advisory_unlock($1)", HOLD)
        await admin.execute("DROP TRIGGER hold_the_answer ON tenancy.idempotency_keys")

        await asyncio.to_thread(second.start)
        async with grpc.aio.insecure_channel(second.target) as channel:
            stub = pb_grpc.TenancyServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as retried:
                await stub.SetQuota(REQUEST, metadata=KEY, timeout=10)
            got = await stub.GetQuota(pb.GetQuotaRequest(tenant_id="acme"), timeout=10)
        assert retried.value.code() is grpc.StatusCode.ALREADY_EXISTS
        assert "took effect" in (retried.value.details() or "")
        assert got.quota.revision == 1
        published = await admin.fetchval(
            "SELECT count(*) FROM tenancy.outbox WHERE event_type = 'tenant.quota.updated'"
        )
        assert published == 1
    finally:
        await asyncio.to_thread(first.kill)
        await asyncio.to_thread(second.stop)
        await admin.close()
