"""Events a transaction emits together go to the outbox in one statement, in order."""

from __future__ import annotations

import json
from typing import Any, cast

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.events.envelope import Envelope
from portico_common.uow import PgUnitOfWork


class _Connection:
    """Records what reaches the database, statement by statement."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[tuple[Any, ...]]]] = []

    async def execute(self, query: str, *args: Any) -> str:
        self.statements.append((query, [args]))
        return "INSERT 0 1"

    async def executemany(self, query: str, args: list[tuple[Any, ...]]) -> None:
        self.statements.append((query, list(args)))


def _phase(index: int) -> ev.RolloutPhaseAdvanced:
    return ev.RolloutPhaseAdvanced(
        tenant_id="acme", rollout_id="r-1", plugin="@acme/cost", version="2.3.0", phase_index=index
    )


async def test_events_emitted_together_are_one_statement_in_order() -> None:
    """Three events: one INSERT for all three rows, in the order given, each its own event."""
    conn = _Connection()
    uow = PgUnitOfWork(
        cast("Any", conn), source="portico/test", tenant_id="acme", clock=ManualClock()
    )
    await uow.emit_all([(_phase(0), "r-1"), (_phase(1), "r-1"), (_phase(2), "r-2")])
    [(query, rows)] = conn.statements
    assert query.split()[:3] == ["INSERT", "INTO", "outbox"]
    events = [Envelope.decode(json.loads(r[4]), r[5]) for r in rows]
    assert [e.payload.phase_index for e in events] == [0, 1, 2]  # type: ignore[attr-defined]
    assert [e.subject for e in events] == ["r-1", "r-1", "r-2"]
    assert len({e.id for e in events}) == 3
    assert [str(r[0]) for r in rows] == [e.id for e in events]


async def test_one_event_and_none() -> None:
    """A single event is one plain INSERT; an empty list writes nothing."""
    conn = _Connection()
    uow = PgUnitOfWork(
        cast("Any", conn), source="portico/test", tenant_id="acme", clock=ManualClock()
    )
    await uow.emit(_phase(4), subject="r-1")
    await uow.emit_all([])
    [(_, [row])] = conn.statements
    assert Envelope.decode(json.loads(row[4]), row[5]).payload.phase_index == 4  # type: ignore[attr-defined]
