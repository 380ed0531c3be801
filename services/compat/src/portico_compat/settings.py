"""Settings of the compat service (env prefix PORTICO_)."""

from __future__ import annotations

from pathlib import Path

from portico_common.settings import ServiceSettings
from portico_compat.domain.installs import DEFAULT_SINGLETONS


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
    # Backstage's versions service (https://versions.backstage.io, or a mirror of
    # the backstage/versions repository): when set, a host profile set to a release
    # the tenant has no manifest of fetches it, and SetReleaseManifest with neither
    # packages nor a document fetches the release's. Unset: manifests are uploaded.
    release_manifests_url: str | None = None
    release_manifests_timeout_seconds: float = 5.0
    # Packages of which an app must run one copy: a plugin whose `dependencies`
    # range misses the host's version of one fails (npm would nest a second copy);
    # any other such duplicate only warns. PORTICO_SINGLETON_PACKAGES='["react", ...]'.
    singleton_packages: list[str] = sorted(DEFAULT_SINGLETONS)
