"""The ledger's books say plainly what does not balance."""

from __future__ import annotations

from collections import Counter

from portico.events.v1 import events_pb2 as ev
from portico_common.events.envelope import Envelope
from portico_embedded.testing.ledger import Books, DeadLetter


def _event(tenant: str = "acme") -> Envelope:
    return Envelope.of(
        ev.TenantCreated(tenant_id=tenant, display_name="Acme"),
        source="portico/tenancy",
        tenant_id=tenant,
    )


def test_books_with_every_event_once_and_delivered_balance() -> None:
    """One copy of each event, every delivery recorded: no problem, settled."""
    first, second = _event(), _event()
    books = Books("acme", events=[first, second], deliveries={"c": {first.id, second.id}})
    assert books.problems() == []
    assert books.settled
    assert books.by_type == Counter({"tenant.created": 2})
    assert books.delivered == 2
    assert "2 events (1 types) -> 2 deliveries to 1 consumers" in books.summary()


def test_every_imbalance_is_named() -> None:
    """A copy, a missing delivery, a stray, a backlog, a key in flight, a dead letter."""
    event = _event()
    books = Books(
        "acme",
        events=[event, event],
        missing=[("rollout-checks", "plugin.artifact.verified", "e-1")],
        strays=[("slo-alerting", "e-2")],
        backlog=Counter({"rollout": 1, "slo": 0}),
        in_flight=Counter({"security": 2}),
        dead_letters=[DeadLetter("rollout-slo", "slo.violated", "slo.violated", "e-3", "boom")],
    )
    problems = books.problems()
    assert problems == [
        f"events on the stream more than once: {{'{event.id}': 2}}",
        "rollout-checks never recorded plugin.artifact.verified e-1",
        "slo-alerting recorded e-2, not on the stream",
        "rollout: 1 outbox rows unpublished",
        "security: 2 idempotency keys in flight",
        "dead letter at rollout-slo: slo.violated e-3 (boom)",
    ]
    assert not books.settled
    assert books.by_type == Counter({"tenant.created": 1})
    assert books.problems(copies_allowed=True) == problems[1:]
