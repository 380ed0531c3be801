"""The package catalog `portico up` hands compat when the environment names none."""

from __future__ import annotations

import json
from pathlib import Path

from portico_cli.local_catalog import (
    CATALOG_FILE_ENV,
    CHAIN_VERSION,
    DEPENDENT_NEXT,
    DEPENDENT_PLUGIN,
    DEPENDENT_STABLE,
    PLUGIN,
    catalog_env,
)


def test_without_a_catalog_the_demo_packages_are_written_for_compat(tmp_path: Path) -> None:
    """The file has the registry's shape: the dependent's new version needs the chain version."""
    path = tmp_path / "home" / "compat-catalog.json"
    env = catalog_env(path, {})
    assert env == {CATALOG_FILE_ENV: str(path)}
    packages = json.loads(path.read_text())["packages"]
    assert CHAIN_VERSION in packages[PLUGIN]["versions"]
    versions = packages[DEPENDENT_PLUGIN]["versions"]
    assert versions[DEPENDENT_NEXT]["dependencies"] == {PLUGIN: f"^{CHAIN_VERSION}"}
    # The installed version runs on the stable version the chain version replaces.
    assert versions[DEPENDENT_STABLE]["dependencies"] == {PLUGIN: "^2.3.0"}


def test_a_catalog_or_a_registry_in_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "compat-catalog.json"
    assert catalog_env(path, {CATALOG_FILE_ENV: "/srv/catalog.json"}) == {}
    assert catalog_env(path, {"PORTICO_NPM_REGISTRY_URL": "https://registry.example"}) == {}
    assert not path.exists()
