"""Run a service for a test: in this process, or as its own process as `portico up` would.

Both let the service bind port 0 and learn the port it got (from `ready`,
or from the ready file the kernel writes), so no port is ever chosen by one
process and bound by another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

RunService = Callable[..., Coroutine[Any, Any, None]]


@contextlib.asynccontextmanager
async def serving_in_process(run: RunService, settings: Any, **deps: Any) -> AsyncIterator[int]:
    """`async with serving_in_process(run, settings) as port:` the service's real `run`.

    `run(settings, ready=..., stop=..., **deps)` is a service's bootstrap
    entry; it stops gracefully when the block ends, and an error it died of
    is raised here.
    """
    if not getattr(settings, "auth_target", "x"):
        # A test that runs a service without auth asks for the unsafe mode by name.
        settings = settings.model_copy(update={"unsafe_no_auth": True})
    loop = asyncio.get_running_loop()
    bound: asyncio.Future[int] = loop.create_future()
    stop = asyncio.Event()
    server = asyncio.create_task(run(settings, ready=bound.set_result, stop=stop, **deps))
    waiting: list[asyncio.Future[Any]] = [server, bound]
    done, _ = await asyncio.wait(waiting, timeout=START_TIMEOUT, return_when="FIRST_COMPLETED")
    if server in done:
        server.result()  # raises why it stopped
        raise RuntimeError("the service returned before it was ready")
    if not done:
        server.cancel()
        raise TimeoutError(f"the service was not ready within {START_TIMEOUT:.0f}s")
    try:
        yield bound.result()
    finally:
        stop.set()
        await asyncio.wait_for(server, STOP_TIMEOUT)


@dataclass
class ServiceProcess:
    """`python -m <module>` with PORTICO_* settings, waited for until its health is SERVING."""

    module: str
    env: Mapping[str, str]
    workdir: Path
    #: The gRPC service whose health is waited for ("" for the server as a whole).
    health_service: str = ""
    grpc_port: int = 0
    metrics_port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.module.removeprefix("portico_")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def ready_file(self) -> Path:
        return self.workdir / f"{self.name}.ready.json"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = START_TIMEOUT) -> ServiceProcess:
        """Starts the process; returns once it serves, or fails with its log."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        env |= {
            "PORTICO_GRPC_PORT": "0",
            "PORTICO_METRICS_PORT": "0",
            "PORTICO_SHUTDOWN_GRACE_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
        }
        env |= dict(self.env)
        if not env.get("PORTICO_AUTH_TARGET"):
            # Without an auth target the service refuses to start unless told, by
            # name, to serve unchecked: the tests that run it so say it here.
            env.setdefault("PORTICO_UNSAFE_NO_AUTH", "true")
        env["PORTICO_READY_FILE"] = str(self.ready_file)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", self.module], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not self._read_ready():
            self._check_alive(deadline, timeout)
            time.sleep(0.02)
        with grpc.insecure_channel(self.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service=self.health_service)
            while True:
                self._check_alive(deadline, timeout)
                try:
                    status = health.Check(request, timeout=1).status
                except grpc.RpcError:
                    status = None
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return self
                time.sleep(0.05)

    def _read_ready(self) -> bool:
        try:
            ready = json.loads(self.ready_file.read_text())
        except (FileNotFoundError, ValueError):
            return False
        self.grpc_port = int(ready["grpc_port"])
        self.metrics_port = int(ready.get("metrics_port", 0))
        return True

    def _check_alive(self, deadline: float, timeout: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise RuntimeError(f"{self.module} exited with {code} while starting:\n{self.output()}")
        if time.monotonic() > deadline:
            self.kill()
            raise RuntimeError(f"{self.module} not serving within {timeout:.0f}s:\n{self.output()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait (SIGKILL after `timeout`); returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def assert_stopped_cleanly(self) -> None:
        code = self.stop()
        if code != 0:
            raise AssertionError(f"{self.module} did not stop cleanly ({code}):\n{self.output()}")


@contextlib.asynccontextmanager
async def running_process(
    module: str,
    env: Mapping[str, str],
    workdir: Path,
    *,
    health_service: str = "",
    expect_clean_exit: bool = True,
) -> AsyncIterator[ServiceProcess]:
    """`async with running_process("portico_slo", env, tmp_path) as svc:` then `svc.target`.

    On leaving, SIGTERM; with `expect_clean_exit` a non-zero exit fails the test.
    """
    service = ServiceProcess(module, env, workdir, health_service)
    try:
        await asyncio.to_thread(service.start)
        yield service
    finally:
        code = await asyncio.to_thread(service.stop)
    if expect_clean_exit and code != 0:
        raise AssertionError(f"{module} did not stop cleanly ({code}):\n{service.output()}")


def infra_env(database_url: str, nats_url: str, **settings: str) -> dict[str, str]:
    """PORTICO_* variables for a service on the test's PostgreSQL and NATS.

    `database_url` is the service's own role's URL (`await
    service_database_url("<service>")`): a service refuses an administrator's.
    """
    env = {"PORTICO_DATABASE_URL": database_url, "PORTICO_NATS_URL": nats_url}
    env |= {f"PORTICO_{key.upper()}": value for key, value in settings.items()}
    return env
