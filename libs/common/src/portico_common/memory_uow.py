"""The in-memory unit of work every service's in-memory adapters build on.

It keeps the promises a PostgreSQL transaction keeps, so one contract suite
runs against both adapters of a port:

- writes are staged on a private copy of the state and replace the committed
  state only when the block exits cleanly (an exception rolls everything back);
- events emitted inside reach the store's sink only on commit (the outbox);
- a unit of work sees only its tenant's rows (ALL_TENANTS: every row), and a
  write of another tenant's row fails as row-level security's WITH CHECK does;
- units of work run one at a time, a stronger form of PostgreSQL's row locks.

A service defines its state as a dataclass of plain containers and subclasses
`MemoryUnitOfWork` to add repositories over `self.state`.

The private copy is a deep copy, except for the containers a service names as
holding frozen rows (`frozen_rows`): those rows are never changed in place, only
added or replaced whole, so copying the container is enough to roll it back.
That keeps a unit of work's cost independent of how many decisions or audit
records a long test has stored.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from google.protobuf.message import Message

from portico_common.clock import Clock
from portico_common.errors import PorticoError
from portico_common.tenants import ALL_TENANTS
from portico_common.uow import RecordingEventSink

S = TypeVar("S")


class RowLevelSecurityError(PorticoError):
    """A unit of work wrote a row of a tenant it is not scoped to (a bug, never user input)."""


class TenantScope:
    """What row-level security decides, for repositories over in-memory state."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def sees(self, tenant_id: str) -> bool:
        """Whether a row of `tenant_id` is visible (the policy's USING)."""
        return self.tenant_id in (tenant_id, ALL_TENANTS)

    def check_write(self, tenant_id: str) -> None:
        """Refuses a row of another tenant (the policy's WITH CHECK)."""
        if not self.sees(tenant_id):
            raise RowLevelSecurityError(
                f"row of tenant {tenant_id!r} written in a transaction of {self.tenant_id!r}"
            )


class MemoryUnitOfWork(TenantScope, Generic[S]):
    """One in-memory transaction: a private copy of the state and the events it emits."""

    def __init__(self, state: S, tenant_id: str, clock: Clock) -> None:
        super().__init__(tenant_id)
        self.state = state
        self.clock = clock
        self.pending: list[tuple[Message, str]] = []

    async def emit(self, payload: Message, *, subject: str = "") -> None:
        """Queues an event; the store's sink gets it if, and only if, this commits."""
        self.pending.append((payload, subject))


U = TypeVar("U", bound=MemoryUnitOfWork)  # type: ignore[type-arg]


class MemoryStore(Generic[S, U]):
    """The committed state and the events that committed with it."""

    def __init__(
        self,
        state: S,
        make_uow: Callable[[S, str], U],
        *,
        frozen_rows: Collection[str] = (),
    ) -> None:
        self.state = state
        self.sink = RecordingEventSink()
        self.commits = 0
        self._make_uow = make_uow
        self._frozen_rows = tuple(frozen_rows)
        self._lock = asyncio.Lock()

    def _private_copy(self) -> S:
        """The state a unit of work writes to: deep, but shallow for containers of frozen rows."""
        # deepcopy looks every object up in `memo` first: seeding it with each
        # named container's shallow copy makes that copy stand in for it.
        memo: dict[int, object] = {}
        for name in self._frozen_rows:
            rows = getattr(self.state, name)
            memo[id(rows)] = copy.copy(rows)
        return copy.deepcopy(self.state, memo)

    @asynccontextmanager
    async def open(self, tenant_id: str) -> AsyncIterator[U]:
        """A unit of work on a private copy, swapped in only on a clean exit."""
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id (or ALL_TENANTS)")
        async with self._lock:
            uow = self._make_uow(self._private_copy(), tenant_id)
            yield uow
            self.state = uow.state
            for payload, subject in uow.pending:
                await self.sink.emit(payload, subject=subject)
            self.commits += 1

    @property
    def events(self) -> list[Message]:
        """Every committed event, oldest first."""
        return [payload for payload, _ in self.sink.events]
