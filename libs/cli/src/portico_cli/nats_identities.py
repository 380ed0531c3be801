"""The suite's NATS users (`<home>/nats-identities.json`, mode 0600): an nkey seed per identity.

Created once and reused, so a restart keeps the same users. The embedded
nats-server admits only them, each with the permissions the event topology
gives it; nothing here ever prints a seed.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from portico_cli.errors import CliError
from portico_embedded.nats_identities import NatsIdentity, suite_identities


def load_or_create(path: Path) -> dict[str, NatsIdentity]:
    """The identities whose seeds `path` holds, adding any the suite gained since."""
    seeds = _read(path) if path.exists() else {}
    identities = suite_identities(seeds)
    wanted = {name: identity.seed for name, identity in identities.items()}
    if wanted != seeds:
        _write(path, wanted)
    return identities


def observer_seed(path: Path) -> str:
    """The seed of the read-only observer (the demo's timeline); "" if there is none."""
    if not path.exists():
        return ""
    return _read(path).get("observer", "")


def _read(path: Path) -> dict[str, str]:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CliError(f"{path} must map identity names to nkey seeds")
    return {str(k): str(v) for k, v in data.items()}


def _write(path: Path, seeds: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    # 0600 from the first byte, then renamed over the old file in one step.
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(seeds, indent=2, sort_keys=True) + "\n")
    scratch.replace(path)
