"""A Prometheus server (Debian's `prometheus` package) scraping given targets, on its own port.

`make prometheus` puts the binary in `.tools/bin` where the machine has none
on PATH. The server listens on 127.0.0.1:0 and the launcher reads the port it
chose from its log ("Listening on"), so nothing can take it in between.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from portico_embedded.processes import REPO_TOOLS, http_ok, terminate, tool_binary, wait_for

_LISTENING = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)')
_REPO_TOOLS = REPO_TOOLS / "prometheus"


def prometheus_binary() -> str:
    """PORTICO_PROMETHEUS_BIN, else `prometheus` on PATH, else the repository's .tools/bin."""
    return tool_binary("prometheus", "PORTICO_PROMETHEUS_BIN", _REPO_TOOLS)


@dataclass
class PrometheusServer:
    """Prometheus with its TSDB under `data_dir`, scraping `targets` (host:port) every interval."""

    data_dir: Path
    targets: Sequence[str]
    scrape_interval: str = "1s"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "prometheus.log"

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        targets = ", ".join(f'"{t}"' for t in self.targets)
        config.write_text(
            f"global:\n  scrape_interval: {self.scrape_interval}\n"
            f"  evaluation_interval: {self.scrape_interval}\n"
            f"scrape_configs:\n  - job_name: target\n"
            f"    static_configs:\n      - targets: [{targets}]\n"
        )
        # Found before the log opens: a missing binary leaves no file handle behind.
        command = [
            prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            "--web.listen-address=127.0.0.1:0",
        ]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own binary and arguments
                command, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._port_known, "prometheus", timeout, self.proc)
        wait_for(lambda: http_ok(f"{self.url}/-/ready"), "prometheus", timeout, self.proc)
        # Target discovery takes a few seconds to hand the first targets over;
        # a caller wants samples from the moment start() returns.
        wait_for(self._scraping, "prometheus scraping its targets", timeout, self.proc)
        return self

    def _scraping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=1) as response:  # noqa: S310 - local URL
                active = json.load(response)["data"]["activeTargets"]
        except (OSError, ValueError, KeyError):
            return False
        return len(active) == len(self.targets) and all(t["health"] == "up" for t in active)

    def _port_known(self) -> bool:
        match = _LISTENING.search(self.log_path.read_text(errors="replace"))
        if match:
            self.port = int(match[1])
        return match is not None

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None
