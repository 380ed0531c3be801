"""The in-memory unit of work keeps a transaction's promises, whichever way it copies the state."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from portico_common.clock import ManualClock
from portico_common.memory_uow import MemoryStore, MemoryUnitOfWork


@dataclass(frozen=True)
class Row:
    tenant_id: str
    name: str


@dataclass
class Entity:
    name: str
    tags: list[str] = field(default_factory=list)


@dataclass
class State:
    entities: dict[str, Entity] = field(default_factory=dict)
    log: list[Row] = field(default_factory=list)
    latest: dict[str, Row] = field(default_factory=dict)


class AbortedError(Exception):
    pass


def store(*frozen_rows: str) -> MemoryStore[State, MemoryUnitOfWork[State]]:
    clock = ManualClock()
    return MemoryStore(
        State(),
        lambda state, tenant: MemoryUnitOfWork(state, tenant, clock),
        frozen_rows=frozen_rows,
    )


async def fill(s: MemoryStore[State, MemoryUnitOfWork[State]]) -> None:
    async with s.open("t1") as tx:
        tx.state.entities["e"] = Entity("e", ["a"])
        tx.state.log.append(Row("t1", "first"))
        tx.state.latest["t1"] = Row("t1", "first")


async def change_everything_then_fail(s: MemoryStore[State, MemoryUnitOfWork[State]]) -> None:
    async with s.open("t1") as tx:
        tx.state.entities["e"].tags.append("b")
        tx.state.entities["new"] = Entity("new")
        tx.state.log.append(Row("t1", "second"))
        tx.state.latest["t1"] = Row("t1", "second")
        raise AbortedError


@pytest.mark.parametrize("frozen_rows", [(), ("log", "latest")])
async def test_a_failed_unit_of_work_changes_nothing(frozen_rows: tuple[str, ...]) -> None:
    s = store(*frozen_rows)
    await fill(s)
    with pytest.raises(AbortedError):
        await change_everything_then_fail(s)
    assert s.state.entities == {"e": Entity("e", ["a"])}
    assert s.state.log == [Row("t1", "first")]
    assert s.state.latest == {"t1": Row("t1", "first")}
    assert s.commits == 1


async def test_frozen_rows_are_shared_and_their_containers_are_not() -> None:
    s = store("log", "latest")
    await fill(s)
    committed = s.state
    async with s.open("t1") as tx:
        # The rows themselves are the committed ones: nothing edits them in place.
        assert tx.state.log[0] is committed.log[0]
        # Their containers, and every other field, are the unit of work's own.
        assert tx.state.log is not committed.log
        assert tx.state.latest is not committed.latest
        assert tx.state.entities["e"] is not committed.entities["e"]
        tx.state.log.append(Row("t1", "second"))
    assert [r.name for r in s.state.log] == ["first", "second"]
    assert [r.name for r in committed.log] == ["first"]


async def test_a_clean_exit_commits_every_field() -> None:
    s = store("log")
    await fill(s)
    async with s.open("t1") as tx:
        tx.state.entities["e"].tags.append("b")
        tx.state.log.append(Row("t1", "second"))
    assert s.state.entities["e"].tags == ["a", "b"]
    assert len(s.state.log) == 2
    assert s.commits == 2
