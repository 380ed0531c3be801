"""The PostgreSQL side of the contract suites: units of work of each context on a migrated
database, on the same ManualClock the in-memory side uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_common.uow import uow_factory
from portico_security.install.adapters.postgres import InstallPgUnitOfWork
from portico_security.install.app.ports import InstallUowFactory
from portico_security.trust.adapters.postgres import TrustPgUnitOfWork
from portico_security.trust.app.ports import TrustUowFactory
from portico_security.verification.adapters.postgres import VerificationPgUnitOfWork
from portico_security.verification.app.ports import VerificationUowFactory

# Microseconds, as PostgreSQL keeps them; an offset other than UTC comes back as UTC.
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def verification_pg(security_db: Database, clock: ManualClock) -> VerificationUowFactory:
    return uow_factory(
        security_db,
        lambda conn, tenant: VerificationPgUnitOfWork(conn, tenant_id=tenant, clock=clock),
    )


@pytest.fixture
def trust_pg(security_db: Database, clock: ManualClock) -> TrustUowFactory:
    return uow_factory(
        security_db, lambda conn, tenant: TrustPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )


@pytest.fixture
def install_pg(security_db: Database, clock: ManualClock) -> InstallUowFactory:
    return uow_factory(
        security_db, lambda conn, tenant: InstallPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )
