"""A tenant's Kubernetes footprint, as the manifests that make it, in the order they apply.

Namespace first (everything else lives in it), then what bounds the tenant
(ResourceQuota from its quota, LimitRange for containers that state no
resources), then what isolates it (NetworkPolicy: all ingress denied but the
portal's), then who may act in it (a Role per tenant role and a RoleBinding
giving it to the tenant's group). Compensation removes them in reverse.
Pure: plain dicts, the shape `kubectl apply` and the API server take.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portico_tenancy.domain.quota import Quota, Resources

Manifest = dict[str, Any]

PROVISION_JOB = "tenant.provision"
# Removes the tenant's namespace once its deletion is requested; ordered after its
# provisionings, so none still running can bring the namespace back behind it.
TEARDOWN_JOB = "tenant.teardown"
# The deletion saga's participant that stands for the tenant's namespace: the
# teardown job reports for it, and the tenant is deleted only once it has.
CLUSTER_PARTICIPANT = "kubernetes"
MANAGED_BY = {"app.kubernetes.io/managed-by": "portico"}

# What each tenant role may do in its namespace. None may touch the objects
# that bound or isolate the tenant (quotas, limit ranges, network policies,
# RBAC): those belong to the platform.
_WORKLOADS = [
    ("", ["pods", "pods/log", "services", "configmaps", "persistentvolumeclaims", "secrets"]),
    ("apps", ["deployments", "statefulsets", "replicasets", "daemonsets"]),
    ("batch", ["jobs", "cronjobs"]),
    ("networking.k8s.io", ["ingresses"]),
]
_READ = ["get", "list", "watch"]
_WRITE = [*_READ, "create", "update", "patch", "delete"]
ROLE_VERBS: Mapping[str, list[str]] = {
    "admin": [*_WRITE, "deletecollection"],
    "developer": _WRITE,
    "viewer": _READ,
}


@dataclass(frozen=True, slots=True)
class ProvisioningSpec:
    """What the platform decides for every tenant's namespace (settings)."""

    namespace_prefix: str = "tenant-"
    # The namespace the portal (Backstage, the gateway) runs in: its pods may reach tenants.
    portal_namespace: str = "portico"
    # The tenant's groups at the identity provider: "<prefix><tenant>:<role>".
    group_prefix: str = "portico:"
    # The quota a tenant gets while the platform has set none.
    default_limits: Resources = field(default_factory=lambda: Resources(2000, 4096, 10240))

    def namespace(self, tenant_id: str) -> str:
        return f"{self.namespace_prefix}{tenant_id}"

    def group(self, tenant_id: str, role: str) -> str:
        return f"{self.group_prefix}{tenant_id}:{role}"


def provisioning_manifests(
    tenant_id: str, quota: Quota | None, spec: ProvisioningSpec
) -> list[Manifest]:
    """Every object of the tenant's namespace, in the order they are applied."""
    namespace = spec.namespace(tenant_id)
    limits = quota.limits if quota is not None else spec.default_limits
    labels = _labels(tenant_id)
    manifests = [
        namespace_manifest(tenant_id, spec),
        _resource_quota(namespace, labels, limits, quota),
        _limit_range(namespace, labels, limits),
        *_network_policies(namespace, labels, spec.portal_namespace),
    ]
    manifests += [_role(namespace, labels, role, verbs) for role, verbs in ROLE_VERBS.items()]
    manifests += [
        _role_binding(namespace, labels, role, spec.group(tenant_id, role)) for role in ROLE_VERBS
    ]
    return manifests


def namespace_manifest(tenant_id: str, spec: ProvisioningSpec) -> Manifest:
    """The tenant's Namespace: everything else of the tenant lives in it (and goes with it)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.namespace(tenant_id), "labels": _labels(tenant_id)},
    }


def _labels(tenant_id: str) -> dict[str, str]:
    return {**MANAGED_BY, "portico.dev/tenant": tenant_id}


def manifest_key(manifest: Manifest) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): what identifies an object in a cluster."""
    metadata = manifest["metadata"]
    return (
        manifest["apiVersion"],
        manifest["kind"],
        metadata.get("namespace", ""),
        metadata["name"],
    )


def _meta(name: str, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


def _cpu(millicores: int) -> str:
    return f"{millicores}m"


def _mib(mib: int) -> str:
    return f"{mib}Mi"


def _resource_quota(
    namespace: str, labels: Mapping[str, str], limits: Resources, quota: Quota | None
) -> Manifest:
    hard = {
        "requests.cpu": _cpu(limits.cpu_millicores),
        "limits.cpu": _cpu(limits.cpu_millicores),
        "requests.memory": _mib(limits.memory_mib),
        "limits.memory": _mib(limits.memory_mib),
        "requests.storage": _mib(limits.storage_mib),
    }
    annotations = {"portico.dev/quota-revision": str(quota.revision if quota else 0)}
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {**_meta("tenant-quota", namespace, labels), "annotations": annotations},
        "spec": {"hard": hard},
    }


def _limit_range(namespace: str, labels: Mapping[str, str], limits: Resources) -> Manifest:
    # A container that states nothing gets a quarter of the tenant's quota at
    # most (at least 100m and 128Mi), and asks for a quarter of that; none may
    # exceed the whole quota.
    cpu_limit = min(limits.cpu_millicores, max(limits.cpu_millicores // 4, 100))
    memory_limit = min(limits.memory_mib, max(limits.memory_mib // 4, 128))
    item: dict[str, Any] = {
        "type": "Container",
        "default": {"cpu": _cpu(cpu_limit), "memory": _mib(memory_limit)},
        "defaultRequest": {
            "cpu": _cpu(max(cpu_limit // 4, 1)),
            "memory": _mib(max(memory_limit // 4, 1)),
        },
        "max": {"cpu": _cpu(limits.cpu_millicores), "memory": _mib(limits.memory_mib)},
    }
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta("tenant-limits", namespace, labels),
        "spec": {"limits": [item]},
    }


def _network_policies(
    namespace: str, labels: Mapping[str, str], portal_namespace: str
) -> list[Manifest]:
    deny_all = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("default-deny-ingress", namespace, labels),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    portal = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("allow-portal-ingress", namespace, labels),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": portal_namespace}
                            }
                        }
                    ]
                }
            ],
        },
    }
    return [deny_all, portal]


def _role(namespace: str, labels: Mapping[str, str], role: str, verbs: list[str]) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(f"tenant-{role}", namespace, labels),
        "rules": [
            {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}
            for group, resources in _WORKLOADS
        ],
    }


def _role_binding(namespace: str, labels: Mapping[str, str], role: str, group: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(f"tenant-{role}", namespace, labels),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": f"tenant-{role}",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }
