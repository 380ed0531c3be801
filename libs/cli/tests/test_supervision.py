"""The watchdog of `portico up`: restarts after the backoff, gives up on a crash loop."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from pathlib import Path

from portico_cli.restarts import RestartPolicy
from portico_cli.supervision import Watchdog, read_state
from portico_common.clock import ManualClock

POLICY = RestartPolicy(initial_backoff_seconds=0.5, max_restarts=2, window_seconds=60)


@dataclass
class FakeSuite:
    """Processes that exit when told to and start again when restarted."""

    pids: dict[str, int] = field(default_factory=lambda: {"rollout": 100, "postgres": 200})
    dead: dict[str, int] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)

    def exited_processes(self) -> dict[str, int]:
        return dict(self.dead)

    def running_pids(self) -> dict[str, int]:
        return {k: v for k, v in self.pids.items() if k not in self.dead}

    def restart_process(self, name: str) -> None:
        self.restarted.append(name)
        self.dead.pop(name)
        self.pids[name] += 1

    def tail_of(self, name: str) -> str:
        return f"Last lines of {name}.log:\nboom"

    def restarted_ready(self, name: str) -> bool:
        return name in self.pids


class Time:
    """A monotonic clock the test moves, with the ManualClock the tracker reads."""

    def __init__(self) -> None:
        self.now = 0.0
        self.clock = ManualClock()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.clock.advance(seconds=seconds)


def _watchdog(tmp_path: Path) -> tuple[Watchdog, FakeSuite, Time, list[str]]:
    suite, moment, said = FakeSuite(), Time(), []
    dog = Watchdog(
        suite, moment.clock, said.append, tmp_path / "supervision.json", POLICY, lambda: moment.now
    )
    dog.begin()
    return dog, suite, moment, said


def test_a_killed_service_is_restarted_after_the_backoff(tmp_path: Path) -> None:
    """SIGKILL: nothing happens before the backoff, the restart right after, then it is back."""
    dog, suite, moment, said = _watchdog(tmp_path)
    moment.advance(5)
    suite.dead["rollout"] = -signal.SIGKILL
    assert dog.tick() is None
    assert suite.restarted == []
    moment.advance(0.4)
    assert dog.tick() is None
    assert suite.restarted == []
    moment.advance(0.2)
    assert dog.tick() is None
    assert suite.restarted == ["rollout"]
    assert said == [
        "rollout was killed by SIGKILL; restarting it in 0.5s (restart 1)",
        "rollout is back",
    ]
    state = read_state(tmp_path / "supervision.json")
    assert state["rollout"]["restarts"] == 1
    assert state["rollout"]["pid"] == 101
    assert state["rollout"]["last_exit"] == "was killed by SIGKILL"
    assert state["postgres"]["restarts"] == 0


def test_a_crash_loop_gives_up_with_the_reason_and_the_log(tmp_path: Path) -> None:
    """The third crash within the window ends supervision with a clear message."""
    dog, suite, moment, _ = _watchdog(tmp_path)
    failure = None
    for _ in range(3):
        suite.dead["postgres"] = 1
        failure = dog.tick()
        moment.advance(5)
        dog.tick()
    assert failure == (
        "postgres exited with code 1; it crashed 3 times within 60s, so portico up gives up on"
        " it.\nLast lines of postgres.log:\nboom"
    )
    state = json.loads((tmp_path / "supervision.json").read_text())
    assert state["postgres"]["status"] == "gave up"
    assert suite.restarted == ["postgres", "postgres"]


def test_a_pending_restart_is_shown_as_restarting(tmp_path: Path) -> None:
    """Between the crash and its restart, status says so."""
    dog, suite, _, _ = _watchdog(tmp_path)
    suite.dead["rollout"] = 1
    dog.tick()
    state = read_state(tmp_path / "supervision.json")
    assert state["rollout"]["status"] == "restarting"
    assert state["rollout"]["started_at"] == ""
