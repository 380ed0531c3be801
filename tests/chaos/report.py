"""What the chaos runs counted, printed at the end of the session; and how much of it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# `make chaos`: every flow against every process; otherwise a fast subset.
FULL = os.environ.get("PORTICO_CHAOS_FULL", "") not in ("", "0")


@dataclass(frozen=True)
class Entry:
    run: str
    seconds: float
    line: str


@dataclass
class Report:
    """What each chaos run counted, in the order they ran."""

    entries: list[Entry] = field(default_factory=list)

    def add(self, run: str, seconds: float, line: str) -> None:
        self.entries.append(Entry(run, seconds, line))
