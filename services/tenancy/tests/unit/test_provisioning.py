"""The tenant's Kubernetes manifests and the saga that applies them, with a recording applier.

Every manifest is validated against the Kubernetes OpenAPI schemas with
kubernetes-validate (strict: unknown fields are errors).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped] # the package ships no type information
import pytest

from portico_tenancy.app.provisioning import apply_in_order
from portico_tenancy.domain.provisioning import (
    ProvisioningSpec,
    manifest_key,
    provisioning_manifests,
)
from portico_tenancy.domain.quota import Quota, Resources

VERSION = "1.37.0"
QUOTA = Quota("acme", Resources(4000, 8192, 20480), 10, 3, datetime(2026, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize("quota", [QUOTA, None], ids=["quota", "default"])
def test_every_manifest_is_valid_against_the_kubernetes_schemas(quota: Quota | None) -> None:
    """Namespace, ResourceQuota, LimitRange, NetworkPolicies, Roles, RoleBindings all validate."""
    manifests = provisioning_manifests("acme", quota, ProvisioningSpec())
    for manifest in manifests:
        kubernetes_validate.validate(manifest, VERSION, strict=True)
    assert [m["kind"] for m in manifests] == [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        *["NetworkPolicy"] * 2,
        *["Role"] * 3,
        *["RoleBinding"] * 3,
    ]


def test_the_validator_catches_a_broken_manifest() -> None:
    """A misspelt field fails strict validation: the check above can fail."""
    broken = provisioning_manifests("acme", QUOTA, ProvisioningSpec())[1]
    broken["spec"]["hardd"] = broken["spec"].pop("hard")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)


def test_the_quota_bounds_the_namespace_and_containers() -> None:
    """ResourceQuota holds the tenant's limits; LimitRange defaults to a quarter, max the whole."""
    _, quota, limits, *_ = provisioning_manifests("acme", QUOTA, ProvisioningSpec())
    assert quota["spec"]["hard"] == {
        "requests.cpu": "4000m",
        "limits.cpu": "4000m",
        "requests.memory": "8192Mi",
        "limits.memory": "8192Mi",
        "requests.storage": "20480Mi",
    }
    [container] = limits["spec"]["limits"]
    assert container["default"] == {"cpu": "1000m", "memory": "2048Mi"}
    assert container["defaultRequest"] == {"cpu": "250m", "memory": "512Mi"}
    assert container["max"] == {"cpu": "4000m", "memory": "8192Mi"}


def test_ingress_is_denied_but_from_the_portal_and_groups_get_their_roles() -> None:
    """A default-deny policy, one admitting the portal's namespace, a binding per tenant group."""
    spec = ProvisioningSpec(portal_namespace="backstage", group_prefix="idp:")
    manifests = provisioning_manifests("acme", None, spec)
    deny, portal = (m for m in manifests if m["kind"] == "NetworkPolicy")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    [rule] = portal["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "backstage"}}}
    ]
    bindings = {
        m["roleRef"]["name"]: m["subjects"][0]["name"]
        for m in manifests
        if m["kind"] == "RoleBinding"
    }
    assert bindings == {
        "tenant-admin": "idp:acme:admin",
        "tenant-developer": "idp:acme:developer",
        "tenant-viewer": "idp:acme:viewer",
    }
    roles = [m for m in manifests if m["kind"] == "Role"]
    touched = {r for role in roles for rule in role["rules"] for r in rule["resources"]}
    assert not touched & {"resourcequotas", "limitranges", "networkpolicies", "roles"}


@dataclass
class RecordingApplier:
    """Applies into a dict; fails on the kinds it is told to; records every call."""

    fail_on: str = ""
    existing: set[tuple[str, str, str, str]] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    @asynccontextmanager
    async def session(self, description: str) -> AsyncIterator[RecordingApplier]:
        self.calls.append(("session", description))
        yield self

    async def apply(self, manifest: dict[str, Any]) -> bool:
        self.calls.append(("apply", manifest["kind"]))
        if manifest["kind"] == self.fail_on:
            raise RuntimeError(f"{self.fail_on} refused")
        key = manifest_key(manifest)
        created = key not in self.existing
        self.existing.add(key)
        return created

    async def delete(self, manifest: dict[str, Any]) -> None:
        self.calls.append(("delete", manifest["kind"]))
        self.existing.discard(manifest_key(manifest))


async def test_the_saga_applies_in_order_and_compensates_in_reverse() -> None:
    """A Role that fails removes the NetworkPolicies, LimitRange, ResourceQuota and Namespace."""
    applier = RecordingApplier(fail_on="Role")
    manifests = provisioning_manifests("acme", QUOTA, ProvisioningSpec())
    with pytest.raises(RuntimeError, match="Role refused"):
        await apply_in_order(applier, manifests, "provision acme")
    deletes = [kind for call, kind in applier.calls if call == "delete"]
    assert deletes == ["NetworkPolicy", "NetworkPolicy", "LimitRange", "ResourceQuota", "Namespace"]
    assert applier.existing == set()


async def test_compensation_goes_on_when_one_removal_fails() -> None:
    """A delete that fails is logged; the earlier objects are still removed."""

    class Stubborn(RecordingApplier):
        async def delete(self, manifest: dict[str, Any]) -> None:
            await super().delete(manifest)
            if manifest["kind"] == "LimitRange":
                raise RuntimeError("cannot delete")

    applier = Stubborn(fail_on="NetworkPolicy")
    with pytest.raises(RuntimeError, match="NetworkPolicy refused"):
        await apply_in_order(
            applier, provisioning_manifests("acme", None, ProvisioningSpec()), "provision acme"
        )
    deletes = [kind for call, kind in applier.calls if call == "delete"]
    assert deletes == ["LimitRange", "ResourceQuota", "Namespace"]
