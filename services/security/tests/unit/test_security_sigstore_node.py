"""The Node.js adapter's failure modes: each is VerifierUnavailableError saying what to fix."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from portico_security.verification.adapters.sigstore_node import (
    DEFAULT_SCRIPT,
    NodeSigstoreVerifier,
    child_environment,
)
from portico_security.verification.domain.provenance import BundleRequest, TrustConfig
from portico_security.verification.errors import TrustConfigError, VerifierUnavailableError

TRUST = TrustConfig(trusted_root_json="{}")
REQUEST = BundleRequest(bundle={})


def fake_node(tmp_path: Path, body: str) -> str:
    """An executable standing in for `node` (a shell script)."""
    path = tmp_path / "node"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_missing_packages_say_how_to_install_them(tmp_path: Path) -> None:
    """A script directory without node_modules names the npm ci command to run."""
    script = tmp_path / "verify.js"
    script.write_text("")
    verifier = NodeSigstoreVerifier(script=script, node=fake_node(tmp_path, "exit 0"))
    with pytest.raises(VerifierUnavailableError, match=re.escape(f"npm ci --prefix {tmp_path}")):
        await verifier.verify([REQUEST], TRUST)


async def test_unstartable_node_is_unavailable(tmp_path: Path) -> None:
    """A node binary that does not exist is UNAVAILABLE, not a crash."""
    verifier = NodeSigstoreVerifier(node=str(tmp_path / "no-such-node"))
    with pytest.raises(VerifierUnavailableError, match=r"cannot start Node\.js") as raised:
        await verifier.verify([REQUEST], TRUST)
    assert raised.value.code == "UNAVAILABLE"


async def test_slow_verifier_times_out(tmp_path: Path) -> None:
    """A verifier that does not answer in time is killed and reported."""
    verifier = NodeSigstoreVerifier(node=fake_node(tmp_path, "exec sleep 5"), timeout=0.2)
    with pytest.raises(VerifierUnavailableError, match=r"no answer within 0.2s"):
        await verifier.verify([REQUEST], TRUST)


async def test_non_json_answer_is_unavailable(tmp_path: Path) -> None:
    """An answer that is not JSON is reported with its first bytes."""
    verifier = NodeSigstoreVerifier(node=fake_node(tmp_path, "cat >/dev/null; echo oops"))
    with pytest.raises(VerifierUnavailableError, match="answer is not JSON: b'oops"):
        await verifier.verify([REQUEST], TRUST)


async def test_failing_process_reports_its_stderr(tmp_path: Path) -> None:
    """A non-zero exit is reported with the end of its stderr."""
    verifier = NodeSigstoreVerifier(node=fake_node(tmp_path, "echo broken >&2; exit 3"))
    with pytest.raises(VerifierUnavailableError, match="exited with 3: broken"):
        await verifier.verify([REQUEST], TRUST)


async def test_unparseable_trusted_root_is_a_configuration_error() -> None:
    """A trusted root that is not JSON is refused before any process starts."""
    with pytest.raises(TrustConfigError, match="trusted root is not JSON"):
        await NodeSigstoreVerifier().verify([REQUEST], TrustConfig(trusted_root_json="{"))


async def test_malformed_bundle_is_a_rejection_not_an_error() -> None:
    """The real script answers a malformed bundle with a 'malformed' outcome."""
    assert DEFAULT_SCRIPT.is_file()
    [outcome] = await NodeSigstoreVerifier().verify([BundleRequest(bundle={"x": 1})], TRUST)
    assert not outcome.ok
    assert outcome.kind in {"malformed", "input"}
    assert outcome.message


# -- least privilege: environment, concurrency cap, no process left behind -----------

ANSWER = '{"results": [{"ok": false, "kind": "input", "message": "fake"}]}'


def python_node(tmp_path: Path, body: str, name: str = "node") -> str:
    """An executable standing in for `node`, written in Python (it adds no variables)."""
    path = tmp_path / name
    script = "\n".join(
        [
            f"#!{sys.executable}",
            "import json, os, pathlib, subprocess, sys, time",
            "sys.stdin.read()",
            body,
            f"print({ANSWER!r})",
        ]
    )
    path.write_text(script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def state_of(pid: int) -> str | None:
    """The process state letter from /proc (None once the process is gone and reaped)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat_line.rsplit(")", 1)[1].split()[0]


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.02)


def test_the_environment_keeps_only_path_home_and_node_settings() -> None:
    """PORTICO_* settings, database URLs and anything named like a credential are dropped."""
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/home/svc",
        "NODE_OPTIONS": "--max-old-space-size=128",
        "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
        "NODE_AUTH_TOKEN": "npm_publish_token",
        "PORTICO_DATABASE_URL": "postgresql://security:pw@db/portico",
        "PORTICO_NATS_NKEY_SEED": "SUAB",
        "DATABASE_URL": "postgresql://x",
        "PGPASSWORD": "pw",
        "AWS_SECRET_ACCESS_KEY": "k",
        "LD_PRELOAD": "/opt/evil.so",
    }
    assert child_environment(parent) == {
        "PATH": "/usr/bin",
        "HOME": "/home/svc",
        "NODE_OPTIONS": "--max-old-space-size=128",
        "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
    }


async def test_the_child_process_sees_only_the_minimal_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the running verifier finds in its environment: no secret of the service."""
    monkeypatch.setenv("PORTICO_DATABASE_URL", "postgresql://security:pw@db/portico")
    monkeypatch.setenv("PORTICO_AUTH_ADMIN_CLIENT_SECRET", "admin-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://other")
    monkeypatch.setenv("NODE_OPTIONS", "--max-old-space-size=128")
    monkeypatch.setenv("HOME", str(tmp_path))
    seen = tmp_path / "env.json"
    dump = f"pathlib.Path({str(seen)!r}).write_text(json.dumps(dict(os.environ)))"
    node = python_node(tmp_path, dump)

    await NodeSigstoreVerifier(node=node).verify([REQUEST], TRUST)

    environment = json.loads(seen.read_text())
    # LC_CTYPE is set by the Python standing in for node (PEP 538), not inherited.
    inherited = {name for name in environment if name != "LC_CTYPE"}
    assert all(name in {"PATH", "HOME"} or name.startswith("NODE_") for name in inherited)
    assert environment["NODE_OPTIONS"] == "--max-old-space-size=128"
    assert environment["HOME"] == str(tmp_path)
    assert "admin-secret" not in seen.read_text()
    assert "postgresql" not in seen.read_text()


async def test_no_more_processes_run_at_once_than_the_cap(tmp_path: Path) -> None:
    """Six concurrent verifications with a cap of two never have three processes alive."""
    running = tmp_path / "running"
    running.mkdir()
    log = tmp_path / "log"
    node = python_node(
        tmp_path,
        "\n".join(
            [
                f"mine = pathlib.Path({str(running)!r}) / str(os.getpid())",
                "mine.touch()",
                "alive = len(os.listdir(mine.parent))",
                f"with open({str(log)!r}, 'a') as f: f.write(f'{{alive}}\\n')",
                "time.sleep(0.3)",
                "mine.unlink()",
            ]
        ),
    )
    verifier = NodeSigstoreVerifier(node=node, max_processes=2)

    await asyncio.gather(*(verifier.verify([REQUEST], TRUST) for _ in range(6)))

    counts = [int(line) for line in log.read_text().split()]
    assert len(counts) == 6
    assert max(counts) == 2


async def test_a_cancelled_verification_leaves_no_process_behind(tmp_path: Path) -> None:
    """Cancelling the caller kills the verifier and what it started, and reaps the verifier."""
    pids, hold = tmp_path / "pids", tmp_path / "hold"
    hold.touch()
    node = python_node(
        tmp_path,
        "\n".join(
            [
                f"if pathlib.Path({str(hold)!r}).exists():",
                "    child = subprocess.Popen(['sleep', '60'])",
                f"    pathlib.Path({str(pids)!r}).write_text(f'{{os.getpid()}} {{child.pid}}')",
                "    time.sleep(60)",
            ]
        ),
    )
    verifier = NodeSigstoreVerifier(node=node, max_processes=1)
    task = asyncio.create_task(verifier.verify([REQUEST], TRUST))
    await eventually(lambda: pids.exists() and len(pids.read_text().split()) == 2)
    verifier_pid, grandchild_pid = map(int, pids.read_text().split())

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert state_of(verifier_pid) is None  # killed and reaped: not even a zombie
    await eventually(lambda: state_of(grandchild_pid) in {None, "Z"})
    # Its slot is free again: with a cap of one, the next verification runs.
    hold.unlink()
    [outcome] = await asyncio.wait_for(verifier.verify([REQUEST], TRUST), timeout=10)
    assert outcome.message == "fake"


async def test_a_timed_out_verification_leaves_no_process_behind(tmp_path: Path) -> None:
    """At the timeout the verifier's whole process group is killed and the verifier reaped."""
    pids = tmp_path / "pids"
    node = python_node(
        tmp_path,
        "\n".join(
            [
                "child = subprocess.Popen(['sleep', '60'])",
                f"pathlib.Path({str(pids)!r}).write_text(f'{{os.getpid()}} {{child.pid}}')",
                "time.sleep(60)",
            ]
        ),
    )
    with pytest.raises(VerifierUnavailableError, match="no answer within"):
        await NodeSigstoreVerifier(node=node, timeout=1.0).verify([REQUEST], TRUST)

    verifier_pid, grandchild_pid = map(int, pids.read_text().split())
    assert state_of(verifier_pid) is None
    await eventually(lambda: state_of(grandchild_pid) in {None, "Z"})


def test_a_cap_below_one_is_refused() -> None:
    """A verifier that could never run is a configuration error."""
    with pytest.raises(ValueError, match="max_processes"):
        NodeSigstoreVerifier(max_processes=0)
