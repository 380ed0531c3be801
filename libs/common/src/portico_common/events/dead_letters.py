"""A service's dead letters on the dead-letter stream: list, inspect, redrive, discard.

Consumers park what they give up on at `portico-dlq.<durable>.<kind>` with
the reason in headers (events.consumer). This reads back only the service's
own durables' subjects. Redriving hands the message to the durable's own
handler in-process (EventConsumer.redeliver): nothing is republished, so no
other service sees it again, and its inbox row makes a second redrive (or an
effect that happened before the failure) harmless. A redriven or discarded
letter is deleted from the stream and the action recorded in the service's
`dead_letter_actions` table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg

from portico_common.db import Database
from portico_common.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from portico_common.events.catalog import DLQ_PREFIX, DLQ_STREAM
from portico_common.events.consumer import EventConsumer
from portico_common.events.envelope import TENANT_HEADER
from portico_common.tenants import ALL_TENANTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetterRecord:
    """One parked message and what its headers say about it."""

    sequence: int
    consumer: str
    kind: str
    event_type: str
    event_id: str
    event_tenant: str
    reason: str
    deliveries: int
    original_subject: str
    dead_lettered_at: datetime | None
    headers: dict[str, str] = field(repr=False)
    payload: bytes = field(repr=False)


def record_of(msg: RawStreamMsg) -> DeadLetterRecord:
    """Reads a dead letter's facts from its subject and headers."""
    consumer, _, kind = (msg.subject or "").removeprefix(DLQ_PREFIX).partition(".")
    headers = {str(k): str(v) for k, v in (msg.headers or {}).items()}
    try:
        deliveries = int(headers.get("portico-dlq-deliveries", "0"))
    except ValueError:
        deliveries = 0
    return DeadLetterRecord(
        sequence=int(msg.seq or 0),
        consumer=consumer,
        kind=kind,
        event_type=headers.get("ce-type", ""),
        event_id=headers.get("ce-id", ""),
        event_tenant=headers.get(TENANT_HEADER, ""),
        reason=headers.get("portico-dlq-reason", ""),
        deliveries=deliveries,
        original_subject=headers.get("portico-dlq-subject", ""),
        dead_lettered_at=msg.time,
        headers=headers,
        payload=bytes(msg.data or b""),
    )


@dataclass(frozen=True)
class RedriveFailure:
    sequence: int
    error: str


@dataclass(frozen=True)
class DeadLetterAction:
    """One audited redrive or discard (a row of `dead_letter_actions`)."""

    id: int
    action: str
    consumer: str
    sequence: int
    event_type: str
    event_id: str
    event_tenant: str
    actor: str
    reason: str
    outcome: str
    acted_at: datetime


ACTIONS = ("redrive", "discard")


class DeadLetterQueue:
    """The dead letters of one service's durable consumers."""

    def __init__(self, js: JetStreamContext, db: Database, service: str) -> None:
        self._js = js
        self._db = db
        self.service = service
        self._consumers: dict[str, EventConsumer] = {}

    def attach(self, consumers: Iterable[EventConsumer]) -> None:
        """The service's consumers, once serve() has made them: whose letters are ours."""
        self._consumers = {c.durable: c for c in consumers}

    @property
    def consumers(self) -> list[str]:
        return sorted(self._consumers)

    async def list_letters(
        self, consumer: str = "", event_type: str = "", after: int = 0, limit: int = 100
    ) -> list[DeadLetterRecord]:
        """Up to `limit` letters after sequence `after`, oldest first, as filtered."""
        durables = [consumer] if consumer else self.consumers
        found: list[DeadLetterRecord] = []
        for durable in durables:
            if durable not in self._consumers:
                raise NotFoundError(f"{self.service} has no consumer {durable!r}")
            subject = f"{DLQ_PREFIX}{durable}.{event_type or '>'}"
            found += await self._scan(subject, after, limit)
        return sorted(found, key=lambda r: r.sequence)[:limit]

    async def _scan(self, subject: str, after: int, limit: int) -> list[DeadLetterRecord]:
        records: list[DeadLetterRecord] = []
        sequence = after + 1
        while len(records) < limit:
            try:
                msg = await self._js.get_msg(DLQ_STREAM, seq=sequence, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                break
            records.append(record_of(msg))
            sequence = int(msg.seq or sequence) + 1
        return records

    async def get(self, sequence: int) -> DeadLetterRecord:
        """One of this service's letters; NotFoundError for any other sequence."""
        try:
            msg = await self._js.get_msg(DLQ_STREAM, seq=sequence)
        except nats.js.errors.NotFoundError:
            raise NotFoundError(f"no dead letter {sequence}") from None
        record = record_of(msg)
        if record.consumer not in self._consumers:
            # Another service's letter: not ours to show.
            raise NotFoundError(f"no dead letter {sequence} for {self.service}")
        return record

    async def redrive(self, sequence: int, actor: str, reason: str) -> str:
        """Handles the letter again; "applied" or "duplicate". Raises if it fails again."""
        record = await self.get(sequence)
        consumer = self._consumers[record.consumer]
        try:
            duplicate = await consumer.redeliver(record.headers, record.payload)
        except Exception as exc:  # whatever the handler raised, the letter stays
            error = f"{type(exc).__name__}: {exc}"[:1000]
            await self._audit("redrive", record, actor, reason, f"failed: {error}")
            raise FailedPreconditionError(
                f"dead letter {sequence} failed again and stays on the queue: {error}"
            ) from exc
        outcome = "duplicate" if duplicate else "applied"
        await self._js.delete_msg(DLQ_STREAM, sequence)
        await self._audit("redrive", record, actor, reason, outcome)
        return outcome

    async def redrive_many(
        self, actor: str, reason: str, consumer: str = "", event_type: str = "", limit: int = 100
    ) -> tuple[int, list[RedriveFailure]]:
        """Redrives what the filter selects; those that fail again stay and are reported."""
        redriven = 0
        failures: list[RedriveFailure] = []
        for record in await self.list_letters(consumer, event_type, 0, limit):
            try:
                await self.redrive(record.sequence, actor, reason)
            except Exception as exc:  # noqa: BLE001 - reported per letter; the batch goes on
                failures.append(RedriveFailure(record.sequence, str(exc)))
                continue
            redriven += 1
        return redriven, failures

    async def discard(self, sequence: int, actor: str, reason: str) -> None:
        """Deletes the letter for good; the reason is recorded."""
        record = await self.get(sequence)
        await self._js.delete_msg(DLQ_STREAM, sequence)
        await self._audit("discard", record, actor, reason, "discarded")

    async def actions(
        self,
        *,
        consumer: str = "",
        action: str = "",
        event_type: str = "",
        event_id: str = "",
        after: int = 0,
        limit: int = 100,
    ) -> list[DeadLetterAction]:
        """Up to `limit` audit records after id `after`, oldest first, as filtered.

        A consumer the service no longer runs is not refused: its records stay history.
        """
        if action and action not in ACTIONS:
            raise InvalidArgumentError(
                f"action must be one of {', '.join(ACTIONS)}, not {action!r}"
            )
        async with self._db.transaction(ALL_TENANTS) as conn:
            rows = await conn.fetch(
                """SELECT id, action, consumer, sequence, event_type, event_id, event_tenant,
                          actor, reason, outcome, acted_at
                     FROM dead_letter_actions
                    WHERE id > $1
                      AND ($2 = '' OR consumer = $2)
                      AND ($3 = '' OR action = $3)
                      AND ($4 = '' OR event_type = $4)
                      AND ($5 = '' OR event_id = $5)
                    ORDER BY id
                    LIMIT $6""",
                after,
                consumer,
                action,
                event_type,
                event_id,
                limit,
            )
        return [DeadLetterAction(**dict(row)) for row in rows]

    async def _audit(
        self, action: str, record: DeadLetterRecord, actor: str, reason: str, outcome: str
    ) -> None:
        async with self._db.transaction(ALL_TENANTS) as conn:
            await conn.execute(
                """INSERT INTO dead_letter_actions
                     (action, consumer, sequence, event_type, event_id, event_tenant,
                      actor, reason, outcome)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                action,
                record.consumer,
                record.sequence,
                record.event_type,
                record.event_id,
                record.event_tenant,
                actor,
                reason,
                outcome,
            )
        log.info(
            "dead letter %s",
            action,
            extra={
                "consumer": record.consumer,
                "sequence": record.sequence,
                "event_id": record.event_id,
                "actor": actor,
                "reason": reason,
                "outcome": outcome,
            },
        )
