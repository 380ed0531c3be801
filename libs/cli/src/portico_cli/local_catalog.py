"""The package catalog `portico up` gives compat when the environment names none.

compat answers "which installed plugins need this version?" (the rollback
saga's dependents) and solves dependencies from a package catalog: a local
JSON file (PORTICO_CATALOG_FILE) or an npm registry (PORTICO_NPM_REGISTRY_URL).
A local suite has neither, so `portico up` writes the demo's plugins as npm
packuments and hands compat that file; either variable set in the
environment wins and no file is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CATALOG_FILE_ENV = "PORTICO_CATALOG_FILE"
REGISTRY_ENV = "PORTICO_NPM_REGISTRY_URL"

# The demo's plugin and the plugin that builds on it.
PLUGIN = "@acme/plugin-cost-insights"
DEPENDENT_PLUGIN = "@acme/plugin-cost-alerts"
ENGINES = {"node": ">=18", "backstage": "^1.30.0"}
PEER_DEPENDENCIES = {"@backstage/core-plugin-api": "^1.9.0", "react": "^18.0.0"}
# The versions of PLUGIN the demo packs, one per path, in order.
PLUGIN_VERSIONS = ("2.3.0", "2.4.0", "2.5.0", "2.6.0", "2.7.0", "2.8.0", "2.9.0")
# The dependency-chain path: PLUGIN goes to CHAIN_VERSION while the dependent goes
# from DEPENDENT_STABLE (which runs on any 2.x) to DEPENDENT_NEXT (which needs
# CHAIN_VERSION's API), so rolling PLUGIN back leaves DEPENDENT_NEXT outside its range.
CHAIN_VERSION = "2.9.0"
DEPENDENT_STABLE = "1.0.0"
DEPENDENT_NEXT = "1.1.0"
DEPENDENT_NEEDS: Mapping[str, Mapping[str, str]] = {
    DEPENDENT_STABLE: {PLUGIN: "^2.3.0"},
    DEPENDENT_NEXT: {PLUGIN: f"^{CHAIN_VERSION}"},
}


def packuments() -> dict[str, Any]:
    """Every demo package as the npm registry would list it (`GET /<name>`)."""

    def manifest(name: str, version: str, dependencies: Mapping[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = {
            "name": name,
            "version": version,
            "engines": ENGINES,
            "peerDependencies": PEER_DEPENDENCIES,
        }
        if dependencies:
            found["dependencies"] = dict(dependencies)
        return found

    return {
        PLUGIN: {"versions": {v: manifest(PLUGIN, v, {}) for v in PLUGIN_VERSIONS}},
        DEPENDENT_PLUGIN: {
            "versions": {
                v: manifest(DEPENDENT_PLUGIN, v, needs) for v, needs in DEPENDENT_NEEDS.items()
            }
        },
    }


def catalog_env(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """compat's catalog setting: nothing when the environment names a catalog, else
    PORTICO_CATALOG_FILE pointing at the demo catalog, written to `path`."""
    environ = os.environ if environ is None else environ
    if environ.get(CATALOG_FILE_ENV) or environ.get(REGISTRY_ENV):
        return {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"packages": packuments()}, indent=2) + "\n")
    return {CATALOG_FILE_ENV: str(path)}
