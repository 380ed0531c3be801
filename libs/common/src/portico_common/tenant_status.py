"""Which tenants' tokens this process refuses, kept current within seconds.

Every service process holds a `RefusedTenants` the interceptor consults on
each call. A `TenantStatusWatcher` feeds it: a core NATS subscription to the
tenant state events (every replica hears each one as it is published, unlike
a durable consumer that hands each event to one replica), and a snapshot from
tenancy (`ListRefusedTenants`) at start and every `resync_seconds`, which
heals whatever the subscription missed while disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import grpc
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from portico.tenancy.v1 import lifecycle_pb2, lifecycle_pb2_grpc, tenancy_pb2
from portico_common.errors import EventError, TenantSuspendedError, UnavailableError
from portico_common.events.catalog import subject_for
from portico_common.events.envelope import Envelope
from portico_common.events.topology import TENANT_STATE_EVENTS, owner_source
from portico_common.grpc.service_tokens import ServiceTokens, service_channel
from portico_common.tenants import ALL_TENANTS
from portico_common.tls import GrpcClientTls, grpc_channel

log = logging.getLogger(__name__)

REFUSED_STATES = frozenset({"suspended", "deleting", "deleted"})

# Tenant id -> its state, for the tenants whose tokens are refused.
Snapshot = Callable[[], Awaitable[Mapping[str, str]]]


class RefusedTenants:
    """The tenants whose tokens are refused, and whether their reads still pass."""

    def __init__(self, *, allow_reads: bool = False) -> None:
        self.allow_reads = allow_reads
        self._states: dict[str, str] = {}
        # Events heard while a snapshot is under way, replayed over it (it may predate them).
        self._heard: list[tuple[str, str]] | None = None

    def state_of(self, tenant_id: str) -> str | None:
        """The refused state of the tenant, or None when its tokens pass."""
        return self._states.get(tenant_id)

    def set_state(self, tenant_id: str, state: str) -> None:
        """Records the tenant's state as an event told it."""
        if self._heard is not None:
            self._heard.append((tenant_id, state))
        self._apply(tenant_id, state)

    def begin_snapshot(self) -> None:
        self._heard = []

    def replace(self, snapshot: Mapping[str, str]) -> None:
        """Takes the snapshot, then the events heard since it was asked for."""
        heard, self._heard = self._heard or [], None
        self._states = {t: s for t, s in snapshot.items() if s in REFUSED_STATES}
        for tenant_id, state in heard:
            self._apply(tenant_id, state)

    def abandon_snapshot(self) -> None:
        self._heard = None

    def check(self, tenant_id: str, *, read: bool) -> None:
        """Raises TenantSuspendedError when the tenant's calls are refused."""
        if not tenant_id or tenant_id == ALL_TENANTS:
            return
        state = self._states.get(tenant_id)
        if state is None or (read and self.allow_reads and state == "suspended"):
            return
        raise TenantSuspendedError(
            f"tenant {tenant_id!r} is {state}: its tokens are refused"
            + (" until it is resumed" if state == "suspended" else "")
        )

    def _apply(self, tenant_id: str, state: str) -> None:
        if state in REFUSED_STATES:
            self._states[tenant_id] = state
        else:
            self._states.pop(tenant_id, None)


class TenantStatusWatcher:
    """Feeds a RefusedTenants from the bus and from tenancy's snapshots."""

    def __init__(
        self,
        refused: RefusedTenants,
        nc: NatsClient,
        snapshot: Snapshot | None,
        *,
        resync_seconds: float = 60.0,
        retry_seconds: float = 2.0,
    ) -> None:
        self._refused = refused
        self._nc = nc
        self._snapshot = snapshot
        self._resync = resync_seconds
        self._retry = retry_seconds
        self._subs: list[Subscription] = []

    async def subscribe(self) -> None:
        """Subscribes to the state events; call before serving, so none is missed."""
        for event_type in TENANT_STATE_EVENTS:
            self._subs.append(await self._nc.subscribe(subject_for(event_type), cb=self._on_msg))

    async def run(self, stop: asyncio.Event) -> None:
        """Loads the snapshot now and every `resync_seconds` (sooner after a failure)."""
        try:
            while not stop.is_set():
                wait = self._resync
                if self._snapshot is not None and not await self.resync():
                    wait = self._retry
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            for sub in self._subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def resync(self) -> bool:
        """Replaces the refused set with tenancy's; False (and logged) when that failed."""
        if self._snapshot is None:
            return True
        self._refused.begin_snapshot()
        try:
            found = await self._snapshot()
        except Exception:
            self._refused.abandon_snapshot()
            log.warning("cannot load the refused tenants from tenancy; retrying", exc_info=True)
            return False
        self._refused.replace(found)
        return True

    async def _on_msg(self, msg: Msg) -> None:
        try:
            envelope = Envelope.decode(msg.headers, msg.data)
        except EventError:
            log.warning("undecodable tenant state event ignored", extra={"subject": msg.subject})
            return
        if envelope.source != owner_source(envelope.type):
            # Only tenancy says what state a tenant is in.
            log.warning("tenant state event from %s ignored", envelope.source)
            return
        state = getattr(envelope.payload, "state", "")
        tenant_id = getattr(envelope.payload, "tenant_id", "")
        if isinstance(state, str) and isinstance(tenant_id, str) and tenant_id:
            self._refused.set_state(tenant_id, state)


_STATE_NAMES = {
    tenancy_pb2.TENANT_STATE_SUSPENDED: "suspended",
    tenancy_pb2.TENANT_STATE_DELETING: "deleting",
    tenancy_pb2.TENANT_STATE_DELETED: "deleted",
}


# Where tenancy is now: a fixed address, or one read from tenancy's ready file.
TenancyAddress = Callable[[], str]


def tenancy_address(target: str, target_file: str) -> TenancyAddress | None:
    """Tenancy's address from the settings (`tenancy_target`, `tenancy_target_file`)."""
    if target:
        return lambda: target
    if not target_file:
        return None
    path = Path(target_file)

    def from_file() -> str:
        try:
            port = int(json.loads(path.read_text())["grpc_port"])
        except (OSError, ValueError, KeyError, TypeError):
            raise UnavailableError(f"tenancy has not written its port to {path} yet") from None
        return f"127.0.0.1:{port}"

    return from_file


def tenancy_channel(
    address: TenancyAddress, tokens: ServiceTokens | None, tls: GrpcClientTls | None
) -> grpc.aio.Channel:
    """A channel to tenancy as this service (bare without an identity: tests without auth)."""
    target = address()
    return grpc_channel(target, tls) if tokens is None else service_channel(target, tokens, tls)


def tenancy_snapshot(
    address: TenancyAddress, tokens: ServiceTokens | None, tls: GrpcClientTls | None = None
) -> Snapshot:
    """Loads the refused tenants from tenancy's ListRefusedTenants (as this service)."""

    async def load() -> dict[str, str]:
        channel = tenancy_channel(address, tokens, tls)
        async with channel:
            reply = await lifecycle_pb2_grpc.TenantLifecycleServiceStub(channel).ListRefusedTenants(
                lifecycle_pb2.ListRefusedTenantsRequest(), timeout=5
            )
        return {t.tenant_id: _STATE_NAMES.get(t.state, "suspended") for t in reply.tenants}

    return load
