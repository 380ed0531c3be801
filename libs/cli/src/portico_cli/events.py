"""The demo's view of the event bus: every `portico.>` event of its tenant, as it arrives."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.errors import EventError
from portico_common.events.catalog import SUBJECT_PREFIX
from portico_common.events.envelope import TENANT_HEADER, Envelope


@dataclass(frozen=True)
class Seen:
    """An event and when it reached this subscription (monotonic seconds)."""

    envelope: Envelope
    arrived: float

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def payload(self) -> Any:
        return self.envelope.payload


class EventFeed:
    """A core NATS subscription to `portico.>`, kept to one tenant's events."""

    def __init__(
        self,
        tenant: str,
        on_event: Callable[[Seen], None],
        on_problem: Callable[[str], None],
    ) -> None:
        self.tenant = tenant
        self.events: list[Seen] = []
        self._on_event = on_event
        self._on_problem = on_problem
        self._nc: Any = None
        self._changed = asyncio.Event()

    async def connect(
        self, url: str, nkey_seed: str = "", tls: ssl.SSLContext | None = None
    ) -> None:
        """Subscribes at `url`, signed in with `nkey_seed` when the server wants a user.

        With `tls` it speaks TLS from the first byte, as the suite's server wants.
        """
        import nats

        from portico_common.events.bus import servers_of
        from portico_common.events.nats_permissions import OBSERVER, inbox_prefix

        options: dict[str, Any] = {}
        if nkey_seed:
            options = {"nkeys_seed_str": nkey_seed, "inbox_prefix": inbox_prefix(OBSERVER)}
        if tls is not None:
            options |= {"tls": tls, "tls_handshake_first": True}
        self._nc = await nats.connect(
            servers=servers_of(url),
            name="portico-demo",
            connect_timeout=3,
            max_reconnect_attempts=3,
            **options,
        )
        await self._nc.subscribe(SUBJECT_PREFIX + ">", cb=self._received)

    @property
    def connected(self) -> bool:
        return self._nc is not None

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
            self._nc = None

    async def _received(self, msg: Any) -> None:
        self.accept(msg.headers, msg.data)

    def accept(self, headers: dict[str, str] | None, body: bytes) -> Seen | None:
        """Keeps and announces one message if it is an event of our tenant."""
        arrived = time.monotonic()
        if (headers or {}).get(TENANT_HEADER) != self.tenant:
            return None
        try:
            envelope = Envelope.decode(headers, body)
        except EventError as exc:
            self._on_problem(f"undecodable event: {exc}")
            return None
        seen = Seen(envelope, arrived)
        self.events.append(seen)
        self._on_event(seen)
        self._changed.set()
        return seen

    def find(self, event_type: str, **fields: str) -> Seen | None:
        """The first event of a type whose payload fields match."""
        for seen in self.events:
            if seen.type == event_type and all(
                getattr(seen.payload, name, None) == value for name, value in fields.items()
            ):
                return seen
        return None

    async def wait_for(self, event_type: str, within: float, **fields: str) -> Seen | None:
        """The first matching event, waiting up to `within` seconds for it to arrive."""
        deadline = time.monotonic() + within
        while (found := self.find(event_type, **fields)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return None
        return found


def _compat(p: ev.CompatChecked) -> str:
    if p.compatible:
        return f"{p.plugin}@{p.version} compatible ({len(p.findings)} checks)"
    failed = [f"{f.name} {f.reason}".strip() for f in p.findings if not f.satisfied]
    return f"{p.plugin}@{p.version} INCOMPATIBLE: {'; '.join(failed)}"


def _started(p: ev.RolloutStarted) -> str:
    phases = "/".join(str(x) for x in p.phases)
    return (
        f"{p.percent}%  {p.plugin}@{p.version}"
        f" (phases {phases}, stable {p.stable_version or 'none'})"
    )


def _violated(p: ev.SloViolated) -> str:
    return (
        f"{p.plugin}@{p.version} {p.rule}: burn rate {p.short_window_burn_rate:.1f}x short"
        f" / {p.long_window_burn_rate:.1f}x long > {p.threshold:.1f}x"
    )


_DESCRIBE: dict[type[Message], Callable[[Any], str]] = {
    ev.TenantCreated: lambda p: f"{p.tenant_id} ({p.display_name})",
    ev.ArtifactVerified: lambda p: f"{p.plugin}@{p.version} signed by {p.publisher} ({p.key_id})",
    ev.ArtifactRejected: lambda p: f"{p.plugin}@{p.version}: {'; '.join(p.reasons)}",
    ev.CompatChecked: _compat,
    ev.RolloutStarted: _started,
    ev.RolloutPhaseAdvanced: lambda p: f"{p.percent}%  {p.plugin}@{p.version}",
    ev.RolloutCompleted: lambda p: f"100%  {p.plugin}@{p.version} is now the stable version",
    ev.RolloutRefused: lambda p: f"{p.plugin}@{p.version}: {'; '.join(p.reasons)}",
    ev.RolloutRolledBack: lambda p: (
        f"{p.plugin}@{p.version} -> {p.stable_version or 'none'} ({p.reason})"
        + (f" cause_rollout_id {p.cause_rollout_id}" if p.cause_rollout_id else "")
    ),
    ev.SloViolated: _violated,
    ev.RolloutDecisionRecorded: lambda p: (
        f"{p.kind} at {p.percent}% ({p.source}, {p.canary_samples} samples)"
        + (f": {'; '.join(p.reasons)}" if p.reasons else "")
    ),
}


def describe(payload: Message) -> str:
    """One line about an event's payload, as the timeline shows it."""
    render = _DESCRIBE.get(type(payload))
    if render is not None:
        return render(payload)
    change = getattr(payload, "change", None)
    if isinstance(change, ev.BreakerChange):
        # Every slo.breaker.* event carries the transition the same way.
        return f"{change.plugin}@{change.version} breaker {change.summary}"
    return payload.DESCRIPTOR.name
