"""`portico up` with the real suite: embedded NATS and PostgreSQL, every service, the gateway.

Needs every service package to be runnable (`python -m portico_<svc>`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import clean_env, descendants, running, wait_for_file

STARTUP_SECONDS = 180


class Suite:
    """One `portico up` run on a home directory."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.home = home
        # Port 0: the gateway binds a free port and reports it; endpoints.json has it.
        self.env = clean_env(PORTICO_GATEWAY_PORT="0")
        logs.mkdir(parents=True, exist_ok=True)
        self.out, self.err = logs / "up.out", logs / "up.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "portico_cli", "up", "--home", str(home)],
                stdout=out,
                stderr=err,
                env=self.env,
            )

    def wait_up(self) -> dict[str, object]:
        path = self.home / "endpoints.json"
        up = wait_for_file(path, lambda: self.proc.poll() is None, STARTUP_SECONDS)
        assert up, f"portico up did not come up:\n{self.output()}"
        data: dict[str, object] = json.loads(path.read_text())
        return data

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "portico_cli", *args, "--home", str(self.home)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()


@pytest.mark.integration
def test_up_status_and_a_clean_stop_then_a_restart_on_the_same_data(tmp_path: Path) -> None:
    """Healthy suite; clean SIGTERM leaving nothing; a restart reuses ports and secrets."""
    home = tmp_path / "home"
    suite = Suite(home, tmp_path / "run1")
    try:
        endpoints = suite.wait_up()
        children = descendants(suite.proc.pid)
        status = suite.cli("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "all 7 healthy" in status.stdout
    finally:
        code = suite.stop()
    output = suite.output()
    assert code == 0, output
    assert "did not stop within its grace period" not in output, output
    assert not (home / "endpoints.json").exists()
    assert [pid for pid in children if running(pid)] == []
    assert set(endpoints["services"]) == {"auth", "tenancy", "security", "compat", "rollout", "slo"}  # type: ignore[arg-type]
    secrets = (home / "secrets.json").read_text()
    infra = json.loads((home / "infra.json").read_text())
    assert json.loads(secrets)["admin_client_secret"] not in output

    again = Suite(home, tmp_path / "run2")
    try:
        again.wait_up()
        assert again.cli("status").returncode == 0
    finally:
        assert again.stop() == 0, again.output()
    assert (home / "secrets.json").read_text() == secrets
    assert json.loads((home / "infra.json").read_text()) == infra


# The demo against the real suite is the end-to-end test in tests/e2e/.
