"""Settings of the compat service (env prefix PORTICO_)."""

from __future__ import annotations

from pathlib import Path

from portico_common.settings import ServiceSettings


class CompatSettings(ServiceSettings):
    grpc_port: int = 50064
    # Dependency solving: where package versions come from (a local JSON catalog
    # file, else an npm-registry-shaped URL, else an empty catalog) and the
    # budget no solve may exceed.
    catalog_file: Path | None = None
    npm_registry_url: str | None = None
    npm_registry_max_packages: int = 2_000
    solver_max_rounds: int = 2_000
    solver_max_seconds: float = 2.0
