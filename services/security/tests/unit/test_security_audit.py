"""Audit records: a hash chain per tenant that shows any edit, removal or reordering."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from portico_security.install.domain.audit import GENESIS, AuditEntry, append, chain_problems

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        tenant_id="acme",
        at=T0 + timedelta(seconds=n),
        actor=f"user-{n}",
        action="approval.approve",
        subject="@acme/p@1.0.0",
        reason=f"reason {n}",
        evidence_digest="sha256:" + "a" * 64,
    )


def chain(n: int) -> list:  # type: ignore[type-arg]
    records = []
    previous = None
    for i in range(n):
        previous = append(previous, entry(i))
        records.append(previous)
    return records


def test_chain_starts_at_genesis_and_links() -> None:
    """The first record follows the genesis hash; each next one follows its predecessor."""
    records = chain(3)
    assert records[0].prev_hash == GENESIS
    assert [r.sequence for r in records] == [1, 2, 3]
    assert records[2].prev_hash == records[1].hash
    assert chain_problems(records) == []


def test_edited_record_is_detected() -> None:
    """Changing a stored field breaks that record's hash."""
    records = chain(3)
    records[1] = replace(records[1], entry=replace(records[1].entry, reason="rewritten"))
    assert chain_problems(records) == ["record 2: its hash does not match its content"]


def test_removed_record_is_detected() -> None:
    """Dropping a record from the middle breaks the sequence and the link."""
    records = chain(3)
    del records[1]
    problems = chain_problems(records)
    assert "record 3: expected sequence 2" in problems
    assert "record 3: does not follow the previous hash" in problems


def test_hash_ignores_the_timezone_of_the_same_instant() -> None:
    """The same instant hashes the same in any zone, as PostgreSQL reads it back in UTC."""
    plus_two = timezone(timedelta(hours=2))
    utc = append(None, entry(0))
    other = append(None, replace(entry(0), at=entry(0).at.astimezone(plus_two)))
    assert utc.hash == other.hash
