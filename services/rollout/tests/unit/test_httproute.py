"""HTTPRoutes for backend plugins: rendered per assignment, valid for Gateway API v1.6.1."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from portico_rollout.adapters.httproute import (
    CRD_FILE,
    VERSION_HEADER,
    HttpRouteRouter,
    Manifest,
    RouteLayout,
    kube_name,
    render,
    validate,
)
from portico_rollout.domain.assignment import Assignment
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidHttpRouteError

BACKEND = "@acme/plugin-cost-insights-backend"
LAYOUT = RouteLayout()


def canary(percent: int, state: RolloutState = RolloutState.IN_PROGRESS) -> Assignment:
    return Assignment(
        "acme",
        BACKEND,
        stable_version="2.2.0",
        rollout_id="ro-1",
        canary_version="2.3.0",
        state=state,
        percent=percent,
    )


def split(manifest: Manifest) -> list[tuple[str, int]]:
    """(service, weight) of the rule every request without a version header takes."""
    last = manifest["spec"]["rules"][-1]
    return [(ref["name"], ref["weight"]) for ref in last["backendRefs"]]


def pinned(manifest: Manifest) -> dict[str, str]:
    """Version header value -> service, for the rules that honour a resolved version."""
    found = {}
    for rule in manifest["spec"]["rules"]:
        headers = rule["matches"][0].get("headers", [])
        if headers:
            assert headers[0]["name"] == VERSION_HEADER
            found[headers[0]["value"]] = rule["backendRefs"][0]["name"]
    return found


def test_a_canary_splits_by_weight_and_pins_resolved_versions() -> None:
    """At 25% the unpinned rule weighs 25/75; a request naming its version goes to it."""
    manifest = render(canary(25), LAYOUT)
    assert manifest is not None
    validate(manifest)
    assert manifest["metadata"]["namespace"] == "portico-acme"
    assert manifest["metadata"]["name"] == "acme-plugin-cost-insights-backend"
    assert manifest["spec"]["parentRefs"] == [{"name": "portico", "namespace": "portico"}]
    assert split(manifest) == [
        ("acme-plugin-cost-insights-backend-2-3-0", 25),
        ("acme-plugin-cost-insights-backend-2-2-0", 75),
    ]
    assert pinned(manifest) == {
        "2.3.0": "acme-plugin-cost-insights-backend-2-3-0",
        "2.2.0": "acme-plugin-cost-insights-backend-2-2-0",
    }
    match = manifest["spec"]["rules"][-1]["matches"][0]["path"]
    assert match == {"type": "PathPrefix", "value": "/api/cost-insights"}


def test_a_canary_at_everyone_keeps_the_stable_backend_at_weight_zero() -> None:
    """At 100% the stable Service stays in the route, so a rollback is a weight change."""
    manifest = render(canary(100), LAYOUT)
    assert manifest is not None
    validate(manifest)
    assert split(manifest) == [
        ("acme-plugin-cost-insights-backend-2-3-0", 100),
        ("acme-plugin-cost-insights-backend-2-2-0", 0),
    ]


@pytest.mark.parametrize(
    "assignment",
    [
        Assignment("acme", BACKEND, stable_version="2.2.0"),
        canary(0, RolloutState.AWAITING_CHECKS),
    ],
)
def test_without_a_live_canary_the_stable_version_takes_everything(
    assignment: Assignment,
) -> None:
    """No canary share: one backend at full weight, and its pinned rule."""
    manifest = render(assignment, LAYOUT)
    assert manifest is not None
    validate(manifest)
    assert split(manifest) == [("acme-plugin-cost-insights-backend-2-2-0", 100)]
    assert list(pinned(manifest)) == ["2.2.0"]


def test_a_plugin_with_nothing_to_serve_has_no_route() -> None:
    """Not installed, or a first canary rolled back: no route (the router deletes it)."""
    assert render(Assignment("acme", BACKEND), LAYOUT) is None


def test_the_schema_refuses_a_broken_route() -> None:
    """A negative weight, an unknown match type and a bad name are each named."""
    manifest = render(canary(25), LAYOUT)
    assert manifest is not None
    manifest["spec"]["rules"][-1]["backendRefs"][0]["weight"] = -1
    manifest["spec"]["rules"][-1]["matches"][0]["path"]["type"] = "Glob"
    manifest["metadata"]["name"] = "Not_A_Name"
    with pytest.raises(InvalidHttpRouteError) as caught:
        validate(manifest)
    problems = " | ".join(caught.value.problems)
    assert "backendRefs.0.weight" in problems
    assert "'Glob' is not one of" in problems
    assert "metadata.name" in problems
    assert caught.value.code == "INTERNAL"


def test_kubernetes_validate_has_no_gateway_api_schemas() -> None:
    """Why the CRD is vendored: kubernetes-validate knows only the built-in kinds."""
    manifest = render(canary(25), LAYOUT)
    assert manifest is not None
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(manifest, "1.33", strict=True)


def test_the_vendored_crd_is_the_release_the_readme_names() -> None:
    """The file's checksum is the one recorded next to it, so it is upstream's, unchanged."""
    here = resources.files("portico_rollout.adapters")
    readme = here.joinpath("gateway_api/README.md").read_text()
    [recorded] = re.findall(r"sha256 `([0-9a-f]{64})`", readme)
    crd = here.joinpath(CRD_FILE).read_bytes()
    assert hashlib.sha256(crd).hexdigest() == recorded
    assert "bundle-version: v1.6.1" in crd.decode()


def test_long_names_stay_dns_labels_and_distinct() -> None:
    """Names are cut to 63 characters with a hash, so two long versions never collide."""
    plugin = "@a-very-long-scope-name/plugin-with-an-unusually-long-name-backend"
    first = kube_name(plugin, "1.0.0-rc.1+build.1234567890")
    second = kube_name(plugin, "1.0.0-rc.1+build.1234567891")
    assert len(first) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", first)
    assert first != second


class RecordingApplier:
    """A RouteApplier that keeps what it was asked to apply or delete."""

    def __init__(self) -> None:
        self.applied: list[Manifest] = []
        self.deleted: list[tuple[str, str]] = []

    async def apply(self, manifest: Manifest) -> None:
        self.applied.append(manifest)

    async def delete(self, namespace: str, name: str) -> None:
        self.deleted.append((namespace, name))


async def test_the_router_writes_applies_and_deletes_backend_routes(tmp_path: Path) -> None:
    """Each change of a backend plugin is written as YAML and applied; frontends are skipped."""
    applier = RecordingApplier()
    router = HttpRouteRouter(LAYOUT, directory=tmp_path, applier=applier)
    frontend = Assignment("acme", "@acme/plugin-cost-insights", stable_version="1.0.0")
    await router.route([canary(10), frontend], complete=True)
    path = tmp_path / "portico-acme" / "acme-plugin-cost-insights-backend.yaml"
    written: dict[str, Any] = yaml.safe_load(path.read_text())
    assert split(written) == [
        ("acme-plugin-cost-insights-backend-2-3-0", 10),
        ("acme-plugin-cost-insights-backend-2-2-0", 90),
    ]
    assert applier.applied == [written]
    await router.route([Assignment("acme", BACKEND)])
    assert not path.exists()
    assert applier.deleted == [("portico-acme", "acme-plugin-cost-insights-backend")]
    assert router.rendered == {}
