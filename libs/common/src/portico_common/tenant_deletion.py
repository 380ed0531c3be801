"""Each service's part of the tenant deletion saga: delete the tenant's rows, report it.

On `tenant.deletion_requested` a service deletes every row of the tenant in
its schema (each table with a `tenant_id` column, children before the
tables they reference) in the consumer's transaction, then reports to
tenancy (`ReportTenantDataDeleted`); a failed report fails the handler, so
the event is redelivered and both run again (both are idempotent). Tables a
service must retain (an append-only audit log) are named in `keep`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from portico.tenancy.v1 import lifecycle_pb2, lifecycle_pb2_grpc
from portico_common.db import Connection
from portico_common.events.consumer import Subscription
from portico_common.events.envelope import Envelope
from portico_common.events.topology import TENANT_DELETION_REQUESTED, tenant_deletion_durable
from portico_common.grpc.service_tokens import ServiceTokens
from portico_common.tenant_status import TenancyAddress, tenancy_channel
from portico_common.tls import GrpcClientTls

# The kernel's own bookkeeping: the consumer's inbox holds this very event's row.
# The kernel's tables a tenant's deletion leaves: the event logs, and the
# placement, which only the migrator writes (it drops a placed tenant's schema
# or database; the service's role may not touch the row).
KERNEL_TABLES = frozenset({"inbox", "outbox", "schema_migrations", "placements"})

# (tenant, service, rows deleted) -> reported to tenancy.
Reporter = Callable[[str, str, int], Awaitable[None]]
# What a service deletes beyond the tenant's rows (auth: its clients, which only
# the platform's transaction sees); the tenant -> how many rows. Idempotent.
ExtraDeletion = Callable[[str], Awaitable[int]]


async def delete_tenant_rows(conn: Connection, tenant_id: str, keep: Collection[str] = ()) -> int:
    """Deletes the tenant's rows from every table of the schema that has them; the count."""
    tables = [
        row["table_name"]
        for row in await conn.fetch(
            """SELECT c.table_name FROM information_schema.columns c
                 JOIN information_schema.tables t
                   ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'
                  AND t.table_type = 'BASE TABLE'"""
        )
        if row["table_name"] not in KERNEL_TABLES and row["table_name"] not in keep
    ]
    references = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent
             FROM pg_constraint c
            WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"""
    )
    total = 0
    for table in _children_first(tables, [(r["child"], r["parent"]) for r in references]):
        status = await conn.execute(
            f'DELETE FROM "{table}" WHERE tenant_id = $1',  # noqa: S608 - names from the catalog
            tenant_id,
        )
        total += int(status.rsplit(" ", 1)[-1])
    return total


def _children_first(tables: list[str], references: list[tuple[str, str]]) -> list[str]:
    """The tables ordered so that each comes before every table it references."""
    names = set(tables)
    parents = {t: {p.split(".")[-1] for c, p in references if c.split(".")[-1] == t} for t in names}
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(names):
        ready = sorted(
            t
            for t in names - placed
            # t may go once every table referencing it is placed.
            if all(t not in parents[o] or o == t for o in names - placed)
        )
        if not ready:  # a cycle: leave the rest to the database's order
            ready = sorted(names - placed)
        ordered += ready
        placed |= set(ready)
    return ordered


def tenancy_reporter(
    address: TenancyAddress, tokens: ServiceTokens | None, tls: GrpcClientTls | None = None
) -> Reporter:
    """Reports to tenancy's ReportTenantDataDeleted, as this service."""

    async def report(tenant_id: str, service: str, rows: int) -> None:
        async with tenancy_channel(address, tokens, tls) as channel:
            await lifecycle_pb2_grpc.TenantLifecycleServiceStub(channel).ReportTenantDataDeleted(
                lifecycle_pb2.ReportTenantDataDeletedRequest(
                    tenant_id=tenant_id, service=service, rows_deleted=rows
                ),
                timeout=10,
            )

    return report


def tenant_deletion_subscription(
    service: str,
    report: Reporter,
    keep: Collection[str] = (),
    extra: ExtraDeletion | None = None,
) -> Subscription:
    """The service's durable consumer of tenant.deletion_requested."""

    async def on_deletion_requested(envelope: Envelope, conn: Connection) -> None:
        rows = await delete_tenant_rows(conn, envelope.tenant_id, keep)
        if extra is not None:
            rows += await extra(envelope.tenant_id)
        await report(envelope.tenant_id, service, rows)

    return Subscription(
        tenant_deletion_durable(service), {TENANT_DELETION_REQUESTED: on_deletion_requested}
    )
