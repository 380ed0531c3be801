"""Where `portico` keeps its state: the home directory and the files in it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".portico"
HOME_ENV = "PORTICO_HOME"


def default_home() -> str:
    """`$PORTICO_HOME`, else `.portico` in the current directory."""
    return os.environ.get(HOME_ENV) or DEFAULT_HOME


@dataclass(frozen=True)
class Home:
    """The files of one Portico home (`.portico/` by default)."""

    root: Path

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def nats_identities(self) -> Path:
        return self.root / "nats-identities.json"

    @property
    def kms_key(self) -> Path:
        # The local KMS's key-encryption key (0600), read by tenancy only.
        return self.root / "kms-key.json"

    @property
    def compat_catalog(self) -> Path:
        # The package catalog compat reads when the environment names none (`local_catalog`).
        return self.root / "compat-catalog.json"

    @property
    def infra(self) -> Path:
        return self.root / "infra.json"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints.json"

    @property
    def processes(self) -> Path:
        # The processes of the running `portico up`, so a later run can clean
        # up after one that was killed without the chance to stop them.
        return self.root / "processes.json"

    @property
    def lock(self) -> Path:
        return self.root / "up.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tls(self) -> Path:
        # The local CA and every identity's certificate and key (0700; keys 0600).
        return self.root / "tls"

    @property
    def nats_store(self) -> Path:
        return self.root / "nats"

    @property
    def postgres_data(self) -> Path:
        return self.root / "postgres"

    @property
    def run(self) -> Path:
        # Ready files: each process writes the ports it bound here once serving.
        return self.root / "run"

    def log_for(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def ready_file_for(self, name: str) -> Path:
        return self.run / f"{name}.ready.json"
