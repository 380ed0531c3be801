"""Test helpers shipped with the service: tenancy over its in-memory adapter, wired by `build`.

Unit tests here use it, and so can other packages' tests that need a tenancy
service without PostgreSQL or NATS.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from portico_common.clock import ManualClock
from portico_common.crypto.kms import KeyEncryptionKey
from portico_tenancy.adapters.memory import MemoryStore, MemoryTables
from portico_tenancy.app.job_ports import ClusterApplier
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.app.worker import JobRunner
from portico_tenancy.bootstrap import Components, Dependencies, build
from portico_tenancy.domain.jobs import RetryPolicy
from portico_tenancy.entrypoints.grpc_api import TenancyServicer
from portico_tenancy.entrypoints.grpc_jobs import JobServicer
from portico_tenancy.entrypoints.grpc_keys import TenantKeysServicer

S = TypeVar("S")


class TenancyWorld:
    """The in-memory store, a clock the test moves, and what `build` makes of them."""

    def __init__(
        self,
        clock: ManualClock | None = None,
        *,
        applier: ClusterApplier | None = None,
        retry_policy: RetryPolicy | None = None,
        max_attempts: int = 3,
        kek: KeyEncryptionKey | None = None,
    ) -> None:
        self.clock = clock or ManualClock()
        self.store = MemoryStore(self.clock)
        self.kek = kek
        self.components: Components = build(
            Dependencies(
                uow=self.store.uow_factory(),
                clock=self.clock,
                applier=applier,
                retry_policy=retry_policy or RetryPolicy(),
                max_attempts=max_attempts,
                kek=kek,
                # Event handlers run in a unit of work of their own (no consumer connection).
                consumer_uow=lambda _conn, tenant: self.store.open(tenant),
            )
        )

    @property
    def uow(self) -> UnitOfWorkFactory:
        return self.store.uow_factory()

    @property
    def servicer(self) -> TenancyServicer:
        """The TenancyService servicer `build` registers."""
        return self._registered(TenancyServicer)

    @property
    def jobs(self) -> JobServicer:
        """The JobService servicer `build` registers."""
        return self._registered(JobServicer)

    @property
    def runner(self) -> JobRunner:
        """What runs one attempt of a job, as the worker calls it."""
        if self.components.job_runner is None:
            raise TypeError("build made no job runner")
        return self.components.job_runner

    @property
    def keys_servicer(self) -> TenantKeysServicer:
        """The TenantKeysService servicer `build` registers."""
        return self._registered(TenantKeysServicer)

    @property
    def keys_kek(self) -> KeyEncryptionKey:
        """The KMS the world was given (tests of the data keys give one)."""
        if self.kek is None:
            raise TypeError("this world has no KMS")
        return self.kek

    @property
    def tables(self) -> MemoryTables:
        """The committed rows."""
        return self.store.state

    @property
    def committed(self) -> list[Message]:
        """Every committed event's payload, oldest first."""
        return self.store.events

    def _registered(self, kind: type[S]) -> S:
        found = [
            s.implementation
            for s in self.components.servicers
            if isinstance(s.implementation, kind)
        ]
        if len(found) != 1:
            raise TypeError(f"build registered {len(found)} {kind.__name__}")
        return found[0]
