"""`portico up` end to end with stand-in processes (no NATS, PostgreSQL or real services).

The fake `portico_<name>` packages shadow the real ones on PYTHONPATH, and the
infrastructure URLs come from the environment (NATS, and a database role per
service, as provisioned by its administrator), so these tests exercise the
supervisor itself: ports and ready files, environment, health waits,
endpoints.json, status, failures with log tails, and the ordered stop.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import clean_env, descendants, running, wait_for_file

from portico_cli.ports import GRPC_PORTS
from portico_embedded.processes import free_port

SERVICES = {"auth", "tenancy", "security", "compat", "rollout", "slo"}
# Each service's own role, as `python -m portico_common.dbsetup provision` makes them.
DB_URLS = {
    name: f"postgresql://portico_{name}:hunter2{name}@127.0.0.1:1/portico" for name in SERVICES
}
NATS_URL = "nats://127.0.0.1:1"


class Up:
    """A `portico up` process with its output in files."""

    def __init__(self, home: Path, fake_suite: Path, tmp_path: Path, **env: str) -> None:
        self.home = home
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.records = tmp_path / "records"
        self.records.mkdir(exist_ok=True)
        self.out = tmp_path / "up.out"
        self.err = tmp_path / "up.err"
        self.env = clean_env(
            PYTHONPATH=os.pathsep.join([str(fake_suite), os.environ.get("PYTHONPATH", "")]),
            PORTICO_NATS_URL=NATS_URL,
            **{f"PORTICO_{name.upper()}_DATABASE_URL": url for name, url in DB_URLS.items()},
            PORTICO_GATEWAY_PORT="0",
            FAKE_RECORD_DIR=str(self.records),
        )
        self.env.update(env)
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "portico_cli", "up", "--home", str(home)],
                stdout=out,
                stderr=err,
                env=self.env,
            )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "portico_cli", *args, "--home", str(self.home)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )

    def recorded(self, name: str) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.records / f"{name}.json").read_text())
        return data

    def ready(self, name: str) -> dict[str, int]:
        data: dict[str, int] = json.loads((self.home / "run" / f"{name}.ready.json").read_text())
        return data

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_up_runs_the_suite_and_stops_it_cleanly_on_sigterm(
    home: Path, fake_suite: Path, tmp_path: Path
) -> None:
    """Starts every process with its env, writes endpoints.json, and stops all on SIGTERM."""
    up = Up(home, fake_suite, tmp_path)
    try:
        assert wait_for_file(home / "endpoints.json", lambda: up.proc.poll() is None, 60), (
            up.output()
        )
        endpoints = json.loads((home / "endpoints.json").read_text())
        children = descendants(up.proc.pid)

        gateway_ready = up.ready("gateway")
        assert endpoints["gateway"] == f"http://127.0.0.1:{gateway_ready['port']}"
        assert gateway_ready["pid"] == endpoints["gateway_pid"]
        assert endpoints["nats"] == NATS_URL
        assert endpoints["database"] == "postgresql://127.0.0.1:1/portico"
        assert endpoints["admin_client_id"] == "portico-admin"
        assert set(endpoints["services"]) == SERVICES
        for name, svc in endpoints["services"].items():
            ready = up.ready(name)
            assert svc["grpc"] == f"127.0.0.1:{ready['grpc_port']}"
            assert svc["metrics"] == f"http://127.0.0.1:{ready['metrics_port']}/metrics"
            assert svc["pid"] == ready["pid"]
            assert svc["pid"] in children
            env = up.recorded(name)
            assert env["PORTICO_GRPC_PORT"] in {"0", str(GRPC_PORTS[name])}
            assert env["PORTICO_METRICS_PORT"] == "0"
            assert env["PORTICO_READY_FILE"] == str(home / "run" / f"{name}.ready.json")
            # Reflection is off by default; the local suite turns it on for grpcurl.
            assert env["PORTICO_GRPC_REFLECTION"] == "true"

        secrets_file = home / "secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((home / "kms-key.json").stat().st_mode) == 0o600
        secrets = json.loads(secrets_file.read_text())
        auth = up.recorded("auth")
        assert auth["PORTICO_AUTH_ADMIN_CLIENT_SECRET"] == secrets["admin_client_secret"]
        assert auth["PORTICO_AUTH_KEY_ENCRYPTION_KEY"] == secrets["key_encryption_key"]
        assert "PORTICO_AUTH_TARGET" not in auth
        assert auth["PORTICO_DATABASE_URL"] == DB_URLS["auth"]
        for name in SERVICES - {"auth"}:
            env = up.recorded(name)
            assert env["PORTICO_AUTH_TARGET"] == endpoints["services"]["auth"]["grpc"]
            assert env["PORTICO_DATABASE_URL"] == DB_URLS[name]
            # Its own role only: no other service's, the migrator's or an administrator's.
            assert [k for k in env if k.endswith("DATABASE_URL")] == ["PORTICO_DATABASE_URL"]
            assert env["PORTICO_NATS_URL"] == NATS_URL
            assert "PORTICO_AUTH_ADMIN_CLIENT_SECRET" not in env
            # Its own identity at auth, and nobody else's.
            assert env["PORTICO_AUTH_CLIENT_ID"] == f"svc-{name}"
            assert env["PORTICO_AUTH_CLIENT_SECRET"] == secrets["services"]["clients"][name]
            assert "PORTICO_AUTH_SERVICE_CLIENT_SECRETS" not in env
            assert ("PORTICO_SLO_CHANNEL_SECRET_KEY" in env) == (name == "slo")
            # Only tenancy holds the KEK; the others get tenants' data keys from it.
            if name == "tenancy":
                assert env["PORTICO_TENANCY_KMS"] == "local"
                assert env["PORTICO_TENANCY_KMS_KEY_FILE"] == str(home / "kms-key.json")
                assert "PORTICO_TENANCY_TARGET" not in env
            else:
                assert env["PORTICO_TENANCY_TARGET"] == endpoints["services"]["tenancy"]["grpc"]
                assert not [k for k in env if k.startswith("PORTICO_TENANCY_KMS")]
        # auth upserts every service's client from this; it never gets a client id of its own.
        assert json.loads(auth["PORTICO_AUTH_SERVICE_CLIENT_SECRETS"]) == {
            name: secrets["services"]["clients"][name] for name in SERVICES
        }
        assert (
            up.recorded("slo")["PORTICO_SLO_CHANNEL_SECRET_KEY"]
            == (secrets["services"]["channel_key"])
        )
        # rollout asks slo for each version's SLO, at the port slo reported before rollout began.
        assert (
            up.recorded("rollout")["PORTICO_ROLLOUT_SLO_TARGET"]
            == (endpoints["services"]["slo"]["grpc"])
        )
        assert [n for n in SERVICES if "PORTICO_ROLLOUT_SLO_TARGET" in up.recorded(n)] == [
            "rollout"
        ]
        # security sizes installs' quota holds by what compat says a version declared,
        # at the port compat reported before security began.
        assert (
            up.recorded("security")["PORTICO_SECURITY_COMPAT_TARGET"]
            == (endpoints["services"]["compat"]["grpc"])
        )
        assert [n for n in SERVICES if "PORTICO_SECURITY_COMPAT_TARGET" in up.recorded(n)] == [
            "security"
        ]
        gateway = up.recorded("gateway")
        assert gateway["PORTICO_GATEWAY_PORT"] == "0"
        assert gateway["PORTICO_GATEWAY_READY_FILE"] == str(home / "run" / "gateway.ready.json")
        assert not [k for k in gateway if k.endswith("DATABASE_URL")]
        assert not [k for k in gateway if k.startswith(("PORTICO_AUTH_", "PORTICO_SLO_"))]
        for name in SERVICES:
            target = gateway[f"PORTICO_GATEWAY_{name.upper()}_TARGET"]
            assert target == endpoints["services"][name]["grpc"]
        assert (home / "logs" / "auth.log").read_text().count("auth: serving") == 1

        # TLS on every gRPC hop: each service serves mutual TLS with its own certificate
        # of the home's CA and calls others showing it; the gateway calls them likewise.
        tls = home / "tls"
        assert stat.S_IMODE(tls.stat().st_mode) == 0o700
        assert endpoints["tls"] is True
        for name in SERVICES:
            env = up.recorded(name)
            assert env["PORTICO_GRPC_TLS_CERT_FILE"] == str(tls / f"{name}.crt")
            assert env["PORTICO_GRPC_TLS_KEY_FILE"] == str(tls / f"{name}.key")
            assert stat.S_IMODE((tls / f"{name}.key").stat().st_mode) == 0o600
            assert env["PORTICO_GRPC_TLS_CLIENT_CA_FILE"] == str(tls / "ca.crt")
            assert env["PORTICO_GRPC_TLS_CA_FILE"] == str(tls / "ca.crt")
            assert env["PORTICO_GRPC_TLS_CLIENT_CERT_FILE"] == str(tls / f"{name}.crt")
            # NATS here is the user's (PORTICO_NATS_URL): its TLS is theirs to set.
            assert "PORTICO_NATS_TLS_CA_FILE" not in env
        assert gateway["PORTICO_GRPC_TLS_CA_FILE"] == str(tls / "ca.crt")
        assert gateway["PORTICO_GRPC_TLS_CLIENT_CERT_FILE"] == str(tls / "gateway.crt")
        assert "PORTICO_GATEWAY_TLS_CERT_FILE" not in gateway  # plain HTTP on loopback
        assert "created a local CA for TLS" in up.output()

        # The probes show the CLI's certificate: the services admit nothing else.
        status = up.cli("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "all 7 healthy" in status.stdout

        again = up.cli("up")
        assert again.returncode == 1
        assert "already running" in again.stderr

        assert up.stop() == 0
    finally:
        up.stop()
    output = up.output()
    assert "stopped" in output
    assert "killed" not in output
    assert secrets["admin_client_secret"] not in output
    assert secrets["key_encryption_key"] not in output
    assert "hunter2" not in output
    assert not (home / "endpoints.json").exists()
    assert not (home / "processes.json").exists()
    assert [pid for pid in children if running(pid)] == []
    assert up.cli("status").returncode == 3


def test_a_service_failing_at_start_stops_the_rest_and_shows_its_log(
    home: Path, fake_suite: Path, tmp_path: Path
) -> None:
    """A crash while starting names the process and its log's tail, and exits 1."""
    up = Up(home, fake_suite, tmp_path, FAKE_CRASH="security")
    try:
        code = up.proc.wait(60)
    finally:
        up.stop()
    err = up.err.read_text()
    assert code == 1
    assert "security exited with code 3 while starting" in err
    assert "boom, cannot connect to the database" in err
    assert not (home / "endpoints.json").exists()
    started = [up.recorded(p.stem) for p in up.records.glob("*.json")]
    assert started
    assert [r["pid"] for r in started if running(int(r["pid"]))] == []


def test_a_process_dying_while_running_stops_everything(
    home: Path, fake_suite: Path, tmp_path: Path
) -> None:
    """A child that exits on its own is reported with its log, and up exits 1."""
    up = Up(home, fake_suite, tmp_path, FAKE_DIE="compat")
    try:
        code = up.proc.wait(60)
    finally:
        up.stop()
    err = up.err.read_text()
    assert code == 1
    assert "compat exited with code 4" in err
    assert "out of memory" in err
    assert not (home / "endpoints.json").exists()
    started = [up.recorded(p.stem) for p in up.records.glob("*.json")]
    assert [r["pid"] for r in started if running(int(r["pid"]))] == []


def test_a_preferred_port_taken_before_the_bind_is_retried_once_on_port_0(
    home: Path, fake_suite: Path, tmp_path: Path
) -> None:
    """A process that cannot bind its preferred port starts again on 0; the suite comes up."""
    # A block of preferred ports free now, so the test does not depend on what else
    # (another suite on the machine) holds the default ones.
    up = Up(
        home,
        fake_suite,
        tmp_path,
        FAKE_PORT_TAKEN="*",
        PORTICO_GATEWAY_PORT="",
        PORTICO_UP_GRPC_BASE_PORT=str(free_port()),
    )
    try:
        assert wait_for_file(home / "endpoints.json", lambda: up.proc.poll() is None, 60), (
            up.output()
        )
        endpoints = json.loads((home / "endpoints.json").read_text())
        retried = []
        for name in [*SERVICES, "gateway"]:
            first = up.recorded(name)
            again = [json.loads(p.read_text()) for p in up.records.glob(f"{name}.*.retry.json")]
            variable = "PORTICO_GATEWAY_PORT" if name == "gateway" else "PORTICO_GRPC_PORT"
            asked = first[variable]
            if asked == "0":
                assert again == []  # already taken when checked: no retry needed
                continue
            retried.append(name)
            assert f"{name} could not bind port {asked}, taken meanwhile" in up.output()
            assert len(again) == 1
            assert again[0][variable] == "0"
        assert retried, "every preferred port was taken before the start: nothing was retried"
        assert set(endpoints["services"]) == SERVICES
        assert up.cli("status").returncode == 0
        assert up.stop() == 0, up.output()
    finally:
        up.stop()


def test_an_explicit_gateway_port_in_use_is_refused(
    home: Path, fake_suite: Path, tmp_path: Path
) -> None:
    """--gateway-port on a busy port fails with a clear message before starting services."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        up = Up(home, fake_suite, tmp_path, PORTICO_GATEWAY_PORT=str(port))
        try:
            code = up.proc.wait(60)
        finally:
            up.stop()
    assert code == 1
    assert f"gateway port {port} is in use" in up.err.read_text()
    assert not list(up.records.glob("*.json"))


def test_ctrl_c_while_starting_stops_what_has_started(
    home: Path, fake_suite: Path, tmp_path: Path
) -> None:
    """SIGINT during start-up stops the started processes and exits 0."""
    up = Up(home, fake_suite, tmp_path, FAKE_SLOW="rollout")
    try:
        assert wait_for_file(up.records / "rollout.json", lambda: up.proc.poll() is None, 30)
        up.proc.send_signal(signal.SIGINT)
        code = up.proc.wait(60)
    finally:
        up.stop()
    assert code == 0, up.output()
    assert "received SIGINT while starting; stopping" in up.output()
    started = [up.recorded(p.stem) for p in up.records.glob("*.json")]
    assert [r["pid"] for r in started if running(int(r["pid"]))] == []
    assert "rollout: stopped while starting" in (home / "logs" / "rollout.log").read_text()


def test_the_next_run_stops_what_a_killed_run_left_behind(
    home: Path, fake_suite: Path, tmp_path: Path
) -> None:
    """After SIGKILL of `portico up`, status says so and the next `up` cleans up first."""
    first = Up(home, fake_suite, tmp_path / "first")
    try:
        assert wait_for_file(home / "endpoints.json", lambda: first.proc.poll() is None, 60)
        orphans = descendants(first.proc.pid)
        first.proc.kill()
        first.proc.wait(10)
        assert [pid for pid in orphans if running(pid)]  # children outlive a SIGKILL

        stale = first.cli("status")
        assert stale.returncode == 3
        assert "which has exited" in stale.stderr

        second = Up(home, fake_suite, tmp_path / "second")
        try:
            deadline = time.monotonic() + 60
            while second.proc.poll() is None and time.monotonic() < deadline:
                path = home / "endpoints.json"
                if path.exists() and json.loads(path.read_text())["pid"] == second.proc.pid:
                    break
                time.sleep(0.1)
            assert json.loads((home / "endpoints.json").read_text())["pid"] == second.proc.pid
            assert [pid for pid in orphans if running(pid)] == []
        finally:
            assert second.stop() == 0, second.output()
        assert "left running by a previous `portico up`" in second.output()
    finally:
        first.stop()
