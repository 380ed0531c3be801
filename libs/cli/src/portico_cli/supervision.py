"""`portico up` after start-up: restart what dies, give up on what keeps dying.

Each service, the gateway and an embedded NATS or PostgreSQL is watched; one
that exits is started again (a service on the port it had, so nobody's
settings change; a server on the same data) after the backoff the
`RestartPolicy` gives, unless it crashed too often lately. What happened is
written to `<home>/run/supervision.json` for `portico status`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from portico_cli.endpoints import write_json
from portico_cli.procs import describe_exit
from portico_cli.restarts import GiveUp, RestartPolicy, RestartTracker
from portico_common.clock import Clock

STATE_FILE = "supervision.json"


class Supervised(Protocol):
    """What the watchdog needs of the suite."""

    def exited_processes(self) -> dict[str, int]: ...  # name -> exit code
    def running_pids(self) -> dict[str, int]: ...
    def restart_process(self, name: str) -> None: ...
    def tail_of(self, name: str) -> str: ...
    def restarted_ready(self, name: str) -> bool: ...  # its ports known again (endpoints)


@dataclass
class Watchdog:
    suite: Supervised
    clock: Clock
    say: Callable[[str], None]
    state_path: Path
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    monotonic: Callable[[], float] = time.monotonic
    trackers: dict[str, RestartTracker] = field(default_factory=dict)
    # Restarts waiting for their backoff: name -> when (monotonic).
    due: dict[str, float] = field(default_factory=dict)
    # Restarted processes whose new ports are not yet in endpoints.json.
    settling: set[str] = field(default_factory=set)

    def begin(self) -> None:
        """Every process runs now: their uptimes start."""
        for name in self.suite.running_pids():
            self._tracker(name).started()
        self.write_state()

    def tick(self) -> str | None:
        """One look: schedules restarts, runs the due ones; the reason when giving up."""
        for name, code in self.suite.exited_processes().items():
            if name in self.due:
                continue
            decision = self._tracker(name).exited(describe_exit(code))
            if isinstance(decision, GiveUp):
                self.write_state(gave_up=name)
                return f"{decision.reason}.\n{self.suite.tail_of(name)}"
            self.say(
                f"{name} {describe_exit(code)}; restarting it in {decision.delay_seconds:.1f}s"
                f" (restart {self._tracker(name).record.restarts + 1})"
            )
            self.due[name] = self.monotonic() + decision.delay_seconds
            self.write_state()
        now = self.monotonic()
        for name, when in sorted(self.due.items(), key=lambda item: item[1]):
            if when <= now:
                del self.due[name]
                self.suite.restart_process(name)
                self._tracker(name).restarted()
                self.settling.add(name)
                self.write_state()
        for name in list(self.settling):
            if self.suite.restarted_ready(name):
                self.settling.discard(name)
                self.say(f"{name} is back")
        return None

    def write_state(self, gave_up: str = "") -> None:
        pids = self.suite.running_pids()
        state: dict[str, Any] = {}
        for name, tracker in sorted(self.trackers.items()):
            record = tracker.record
            status = "running"
            if name == gave_up:
                status = "gave up"
            elif name in self.due:
                status = "restarting"
            state[name] = {
                "pid": pids.get(name, 0),
                "status": status,
                "restarts": record.restarts,
                "started_at": record.started_at.isoformat() if record.started_at else "",
                "last_exit": record.last_exit,
            }
        write_json(self.state_path, state)

    def _tracker(self, name: str) -> RestartTracker:
        if name not in self.trackers:
            self.trackers[name] = RestartTracker(name, self.clock, self.policy)
        return self.trackers[name]


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """The last state the watchdog wrote; empty when there is none."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}
