"""SIGINT, SIGTERM and SIGHUP as a request to stop; a second one means stop now."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """Counts stop signals instead of raising, so shutdown runs in order."""

    def __init__(self) -> None:
        self.count = 0
        self.name = ""
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.count >= 1

    @property
    def forced(self) -> bool:
        return self.count >= 2

    def install(self) -> None:
        for sig in _SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        self.name = signal.Signals(signum).name
