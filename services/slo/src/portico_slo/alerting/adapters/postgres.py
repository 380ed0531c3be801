"""The alerting unit of work on PostgreSQL: one tenant transaction, every repository."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from portico_common.clock import Clock
from portico_common.db import Connection, Database
from portico_common.uow import PgUnitOfWork, uow_factory
from portico_slo.alerting.adapters.postgres_config import PgChannels, PgRouting, PgSilences
from portico_slo.alerting.adapters.postgres_deliveries import PgDeliveries
from portico_slo.alerting.adapters.postgres_state import PgAlerts, PgGroups, PgNotificationLog
from portico_slo.alerting.app.ports import AlertingUowFactory


class AlertingPgUnitOfWork(PgUnitOfWork):
    """The tenant transaction with the alerting repositories."""

    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/slo", tenant_id=tenant_id, clock=clock)
        self._channels = PgChannels(conn)
        self._routing = PgRouting(conn)
        self._silences = PgSilences(conn)
        self._alerts = PgAlerts(conn)
        self._groups = PgGroups(conn)
        self._nflog = PgNotificationLog(conn)
        self._deliveries = PgDeliveries(conn)

    @property
    def channels(self) -> PgChannels:
        return self._channels

    @property
    def routing(self) -> PgRouting:
        return self._routing

    @property
    def silences(self) -> PgSilences:
        return self._silences

    @property
    def alerts(self) -> PgAlerts:
        return self._alerts

    @property
    def groups(self) -> PgGroups:
        return self._groups

    @property
    def nflog(self) -> PgNotificationLog:
        return self._nflog

    @property
    def deliveries(self) -> PgDeliveries:
        return self._deliveries


def pg_alerting_uow(db: Database, clock: Clock) -> AlertingUowFactory:
    """Units of work that each open (and commit) their own tenant transaction."""
    return uow_factory(
        db, lambda conn, tenant: AlertingPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )


def pg_alerting_consumer_uow(
    clock: Clock,
) -> Callable[[Connection, str], AbstractAsyncContextManager[AlertingPgUnitOfWork]]:
    """Units of work on an event consumer's transaction, which commits with the inbox row."""

    @asynccontextmanager
    async def within(conn: Connection, tenant_id: str) -> AsyncIterator[AlertingPgUnitOfWork]:
        yield AlertingPgUnitOfWork(conn, tenant_id=tenant_id, clock=clock)

    return within
