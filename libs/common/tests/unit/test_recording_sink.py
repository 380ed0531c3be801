"""The in-memory EventSink that application-layer unit tests use."""

from __future__ import annotations

from portico.events.v1 import events_pb2 as ev
from portico_common.uow import RecordingEventSink


async def test_records_events_with_their_subject_in_order() -> None:
    """Emitted payloads are kept in order together with their CloudEvents subject."""
    sink = RecordingEventSink()
    started = ev.RolloutStarted(rollout_id="r-1")
    completed = ev.RolloutCompleted(rollout_id="r-1")
    await sink.emit(started, subject="r-1")
    await sink.emit(completed)
    assert sink.events == [(started, "r-1"), (completed, "")]


async def test_of_type_filters_by_message_class() -> None:
    """of_type returns only the payloads of the asked-for event message."""
    sink = RecordingEventSink()
    await sink.emit(ev.RolloutStarted(rollout_id="r-1"))
    await sink.emit(ev.RolloutCompleted(rollout_id="r-1"))
    await sink.emit(ev.RolloutStarted(rollout_id="r-2"))
    assert sink.of_type(ev.RolloutStarted) == [
        ev.RolloutStarted(rollout_id="r-1"),
        ev.RolloutStarted(rollout_id="r-2"),
    ]
