"""The audit trail: append-only records, chained by hash per tenant.

Each record's hash covers its fields and the previous record's hash, so
removing or altering a record anywhere breaks every hash after it, and
`chain_problems` finds where. The database refuses UPDATE and DELETE as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "sha256:" + "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened: who did what to which subject, why, and the evidence's digest."""

    tenant_id: str
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str
    evidence_digest: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An entry with its place in the tenant's chain."""

    entry: AuditEntry
    sequence: int
    prev_hash: str
    hash: str


def record_hash(entry: AuditEntry, sequence: int, prev_hash: str) -> str:
    body = {
        "tenant_id": entry.tenant_id,
        # Microseconds, as PostgreSQL stores them, so a read-back record hashes the same.
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "reason": entry.reason,
        "evidence_digest": entry.evidence_digest,
        "sequence": sequence,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(previous: AuditRecord | None, entry: AuditEntry) -> AuditRecord:
    """The record that follows `previous` (None: the tenant's first) in the chain."""
    sequence = 1 if previous is None else previous.sequence + 1
    prev_hash = GENESIS if previous is None else previous.hash
    return AuditRecord(entry, sequence, prev_hash, record_hash(entry, sequence, prev_hash))


def chain_problems(
    records: Sequence[AuditRecord], *, previous: AuditRecord | None = None
) -> list[str]:
    """Every break in a tenant's chain (records in sequence order); empty when intact.

    `previous` is the record just before the first one, for a page that does not
    start at the chain's beginning.
    """
    problems: list[str] = []
    for record in records:
        want_seq = 1 if previous is None else previous.sequence + 1
        want_prev = GENESIS if previous is None else previous.hash
        if record.sequence != want_seq:
            problems.append(f"record {record.sequence}: expected sequence {want_seq}")
        if record.prev_hash != want_prev:
            problems.append(f"record {record.sequence}: does not follow the previous hash")
        if record.hash != record_hash(record.entry, record.sequence, record.prev_hash):
            problems.append(f"record {record.sequence}: its hash does not match its content")
        previous = record
    return problems
