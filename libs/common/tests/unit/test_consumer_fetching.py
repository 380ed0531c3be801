"""How the consumer pulls: one message when idle, short batches when busy.

nats-py's batch fetch lingers, when nothing is waiting, until the batch fills
or its timeout passes; an event landing meanwhile waits with it. After a busy
spell the consumer must therefore linger only briefly, or a lone event (a
violation that should roll a canary back) waits out the whole window.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import nats.errors

from portico_common.events.consumer import ConsumerSettings, EventConsumer


class _Subscription:
    """Answers fetches from a script and records what each asked for."""

    def __init__(self, script: list[list[object] | None], stop: asyncio.Event) -> None:
        self.asked: list[tuple[int, float]] = []
        self._script = script
        self._stop = stop

    async def fetch(self, batch: int, timeout: float) -> list[object]:  # noqa: ASYNC109 - nats-py's signature
        self.asked.append((batch, timeout))
        if not self._script:
            self._stop.set()
            raise nats.errors.TimeoutError
        answer = self._script.pop(0)
        if answer is None:
            raise nats.errors.TimeoutError
        return answer

    async def consumer_info(self) -> Any:
        raise nats.errors.TimeoutError


async def test_a_busy_consumer_lingers_briefly_then_waits_for_one_message() -> None:
    """Idle: fetch 1 with the long timeout; after messages: a batch with the short linger;
    when that finds nothing: back to fetching 1."""
    settings = ConsumerSettings(fetch_timeout_seconds=1.0, busy_linger_seconds=0.005)
    consumer = EventConsumer(cast("Any", None), cast("Any", None), "d", {"t": _noop}, settings)
    stop = asyncio.Event()
    sub = _Subscription([["m1"], ["m2", "m3"], None], stop)
    consumer._sub = cast("Any", sub)
    handled: list[object] = []

    async def process(msg: object) -> None:
        handled.append(msg)

    consumer.process = process  # type: ignore[method-assign]
    await consumer.run(stop)
    assert handled == ["m1", "m2", "m3"]
    assert sub.asked == [(1, 1.0), (32, 0.005), (32, 0.005), (1, 1.0)]
    assert max(timeout for batch, timeout in sub.asked if batch > 1) <= 0.005


async def _noop(*_: object) -> None:
    return None
