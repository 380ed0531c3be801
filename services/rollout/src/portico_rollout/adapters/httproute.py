"""Gateway API HTTPRoutes for backend plugins: the second adapter of the TrafficRouter port.

A backend plugin (a package named `*-backend`, Backstage's convention) runs
as one Kubernetes Service per version in the tenant's namespace. Each
change of its assignment renders one HTTPRoute on the tenant's Gateway:

- a request that names its version (`x-portico-plugin-version`, which the
  portal front end learns from ResolveVersion) goes to that version, so a
  user's sticky cohort holds for backend calls too;
- any other request is split by weight, canary share vs the rest.

Every rendered route is validated against the HTTPRoute CRD's OpenAPI schema
(Gateway API v1.6.1, vendored in `gateway_api/`), written as YAML when a
directory is configured, and applied by server-side apply when a cluster is
configured (`RouteApplier`; see `adapters.kube_apply`). A plugin no longer
installed has its route deleted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

# jsonschema ships no type information (its stubs are a separate package).
import jsonschema  # type: ignore[import-untyped]
import yaml

from portico_rollout.domain.assignment import Assignment
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidHttpRouteError

GATEWAY_API_VERSION = "v1.6.1"
CRD_FILE = "gateway_api/gateway.networking.k8s.io_httproutes.yaml"
API_VERSION = "gateway.networking.k8s.io/v1"
# The header a front end sends with the version ResolveVersion gave it.
VERSION_HEADER = "x-portico-plugin-version"
MANAGED_BY = "portico-rollout"

_LABEL = 63
_NOT_NAME = re.compile(r"[^a-z0-9]+")

Manifest = dict[str, Any]


class RouteApplier(Protocol):
    """Where rendered routes go in a cluster (server-side apply); absent without one."""

    async def apply(self, manifest: Manifest) -> None: ...

    async def delete(self, namespace: str, name: str) -> None: ...


def kube_name(*parts: str, limit: int = _LABEL) -> str:
    """A DNS-1123 label from free text; a hash keeps it unique when it must be cut."""
    name = _NOT_NAME.sub("-", "-".join(parts).lower()).strip("-")
    if len(name) <= limit:
        return name
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class RouteLayout:
    """Where a tenant's backend plugins live in the cluster and how requests reach them."""

    gateway_name: str = "portico"
    gateway_namespace: str = "portico"
    # The tenant's namespace is this prefix and the tenant id (a DNS label already).
    namespace_prefix: str = "portico-"
    # Backstage's backend listens on 7007.
    service_port: int = 7007
    backend_suffix: str = "-backend"

    def is_backend(self, plugin: str) -> bool:
        return plugin.rsplit("/", 1)[-1].endswith(self.backend_suffix)

    def namespace(self, tenant_id: str) -> str:
        return kube_name(f"{self.namespace_prefix}{tenant_id}")

    def route_name(self, plugin: str) -> str:
        return kube_name(plugin)

    def service_name(self, plugin: str, version: str) -> str:
        return kube_name(plugin, version)

    def path_prefix(self, plugin: str) -> str:
        """Where Backstage mounts the plugin: `/api/<id>` (`plugin-` and `-backend` dropped)."""
        bare = plugin.rsplit("/", 1)[-1].removeprefix("plugin-")
        return f"/api/{bare.removesuffix(self.backend_suffix)}"


def render(assignment: Assignment, layout: RouteLayout) -> Manifest | None:
    """The HTTPRoute for a backend plugin's assignment; None when it has nothing to serve."""
    stable = assignment.stable_version
    canary = assignment.canary_version if assignment.percent > 0 else ""
    if assignment.state is RolloutState.COMPLETED:
        stable, canary = assignment.canary_version, ""
    if not stable and not canary:
        return None
    plugin = assignment.plugin
    path = {"path": {"type": "PathPrefix", "value": layout.path_prefix(plugin)}}

    def backend(version: str, weight: int) -> dict[str, Any]:
        return {
            "name": layout.service_name(plugin, version),
            "port": layout.service_port,
            "weight": weight,
        }

    def pinned(version: str) -> dict[str, Any]:
        header = {"type": "Exact", "name": VERSION_HEADER, "value": version}
        return {"matches": [{**path, "headers": [header]}], "backendRefs": [backend(version, 1)]}

    rules = [pinned(version) for version in (canary, stable) if version]
    split = []
    if canary:
        split.append(backend(canary, assignment.percent))
    if stable:
        # Weight 0 when the canary has everyone: kept, so a rollback is one weight away.
        split.append(backend(stable, 100 - assignment.percent if canary else 100))
    rules.append({"matches": [path], "backendRefs": split})
    return {
        "apiVersion": API_VERSION,
        "kind": "HTTPRoute",
        "metadata": {
            "name": layout.route_name(plugin),
            "namespace": layout.namespace(assignment.tenant_id),
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
            "annotations": {
                "portico.dev/plugin": plugin,
                "portico.dev/rollout-id": assignment.rollout_id,
            },
        },
        "spec": {
            "parentRefs": [{"name": layout.gateway_name, "namespace": layout.gateway_namespace}],
            "rules": rules,
        },
    }


# ObjectMeta as the API server checks what a route carries (the CRD leaves it open).
_METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {
        "name": {
            "type": "string",
            "maxLength": 253,
            "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        },
        "namespace": {
            "type": "string",
            "maxLength": 63,
            "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 63}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@cache
def httproute_schema() -> dict[str, Any]:
    """The v1 openAPIV3Schema of the vendored CRD, with ObjectMeta's name rules added."""
    text = resources.files("portico_rollout.adapters").joinpath(CRD_FILE).read_bytes()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader, libyaml's when present
    [v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = v1["schema"]["openAPIV3Schema"]
    return {**schema, "properties": {**schema["properties"], "metadata": _METADATA}}


def validate(manifest: Manifest) -> None:
    """Raises InvalidHttpRouteError listing every way `manifest` breaks the schema.

    The CRD's CEL rules (`x-kubernetes-validations`) are the API server's to
    evaluate on apply; the structural schema (types, enums, bounds, patterns,
    required fields) is checked here, before anything leaves the process.
    """
    validator = jsonschema.Draft202012Validator(httproute_schema())
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise InvalidHttpRouteError(manifest.get("metadata", {}).get("name", "?"), problems)


def to_yaml(manifest: Manifest) -> str:
    return yaml.safe_dump(manifest, sort_keys=False)


class HttpRouteRouter:
    """The TrafficRouter that keeps backend plugins' HTTPRoutes as assignments say."""

    def __init__(
        self,
        layout: RouteLayout,
        *,
        directory: Path | None = None,
        applier: RouteApplier | None = None,
    ) -> None:
        self._layout = layout
        self._directory = directory
        self._applier = applier
        # The last YAML rendered per (namespace, route), for inspection and tests.
        self.rendered: dict[tuple[str, str], str] = {}

    async def route(self, changes: Sequence[Assignment], *, complete: bool = False) -> None:
        del complete  # every route is rendered whole; nothing to do once built
        for assignment in changes:
            if self._layout.is_backend(assignment.plugin):
                await self._route_one(assignment)

    async def _route_one(self, assignment: Assignment) -> None:
        namespace = self._layout.namespace(assignment.tenant_id)
        name = self._layout.route_name(assignment.plugin)
        manifest = render(assignment, self._layout)
        if manifest is None:
            self.rendered.pop((namespace, name), None)
            if self._directory is not None:
                (self._directory / namespace / f"{name}.yaml").unlink(missing_ok=True)
            if self._applier is not None:
                await self._applier.delete(namespace, name)
            return
        validate(manifest)
        text = to_yaml(manifest)
        self.rendered[namespace, name] = text
        if self._directory is not None:
            _write(self._directory / namespace / f"{name}.yaml", text)
        if self._applier is not None:
            await self._applier.apply(manifest)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader (a GitOps agent) never sees half a route."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(text)
    scratch.replace(path)
