"""The demo's output: one line per step or event, stamped with ms since the start."""

from __future__ import annotations

import sys
import time
from typing import TextIO

EVENT_WIDTH = 24


class Timeline:
    def __init__(self, out: TextIO | None = None, start: float | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.start = time.monotonic() if start is None else start

    def ms(self, at: float | None = None) -> int:
        return round(((time.monotonic() if at is None else at) - self.start) * 1000)

    def stamp(self, at: float | None = None) -> str:
        return f"+{self.ms(at):>6}ms"

    def step(self, text: str) -> None:
        """Something the demo did."""
        self._write(f"{self.stamp()}  {text}")

    def detail(self, text: str) -> None:
        """More about the step above, not stamped."""
        self._write(f"{'':>9}    {text}")

    def event(self, event_type: str, text: str, at: float | None = None) -> None:
        """A domain event received from NATS."""
        self._write(f"{self.stamp(at)}  * {event_type:<{EVENT_WIDTH}} {text}".rstrip())

    def section(self, title: str) -> None:
        self._write(f"\n== {title}")

    def line(self, text: str = "") -> None:
        self._write(text)

    def _write(self, text: str) -> None:
        print(text, file=self.out, flush=True)
