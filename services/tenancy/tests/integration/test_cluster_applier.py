"""Server-side apply to a Kubernetes API server, checked by a stand-in that enforces the protocol.

No cluster runs here: `portico_embedded.kube.FakeKubeApiServer` is a real
HTTP server that refuses any apply that is not a PATCH with
`application/apply-patch+yaml`, our fieldManager and force=true (and dryRun=All
when asked), or whose body does not validate against the Kubernetes schemas.
"""

from __future__ import annotations

import pytest

from portico_embedded.kube import APPLY_PATCH, FakeKubeApiServer
from portico_tenancy.adapters.cluster import ServerSideApplier
from portico_tenancy.app.provisioning import apply_in_order
from portico_tenancy.domain.provisioning import (
    ProvisioningSpec,
    namespace_manifest,
    provisioning_manifests,
)
from portico_tenancy.errors import NamespaceTerminatingError

pytestmark = pytest.mark.integration

MANAGER = "portico-tenancy"
KINDS = [
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "NetworkPolicy",
    "Role",
    "Role",
    "Role",
    "RoleBinding",
    "RoleBinding",
    "RoleBinding",
]


def manifests(tenant: str = "acme") -> list[dict[str, object]]:
    return provisioning_manifests(tenant, None, ProvisioningSpec())


def namespace(tenant: str) -> dict[str, object]:
    return namespace_manifest(tenant, ProvisioningSpec())


async def test_every_object_is_applied_server_side_in_order() -> None:
    """Each manifest is one PATCH with the apply content type, field manager and force."""
    with FakeKubeApiServer(field_manager=MANAGER).running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER)
        created = await apply_in_order(applier, manifests(), "provision tenant acme")

    assert api.violations == []
    assert [r.kind for r in api.applied()] == KINDS
    assert {(r.content_type, r.query["fieldManager"], r.query["force"]) for r in api.applied()} == {
        (APPLY_PATCH, MANAGER, "true")
    }
    assert "dryRun" not in api.applied()[0].query
    assert len(created) == len(KINDS) == len(api.objects)
    assert api.applied()[0].path == "/api/v1/namespaces/tenant-acme"
    assert api.applied()[3].path == (
        "/apis/networking.k8s.io/v1/namespaces/tenant-acme/networkpolicies/default-deny-ingress"
    )


async def test_applying_again_converges_and_creates_nothing() -> None:
    """A second run applies every object again (idempotent) and reports none as created."""
    with FakeKubeApiServer(field_manager=MANAGER).running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER)
        await apply_in_order(applier, manifests(), "first")
        again = await apply_in_order(applier, manifests(), "second")

    assert again == []
    assert len(api.applied()) == 2 * len(KINDS)
    assert api.violations == []


async def test_dry_run_sends_dry_run_all_and_stores_nothing() -> None:
    """With dry_run every apply carries dryRun=All, and the server keeps no object."""
    with FakeKubeApiServer(field_manager=MANAGER, expect_dry_run=True).running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER, dry_run=True)
        await apply_in_order(applier, manifests(), "dry run")

    assert api.violations == []
    assert {r.query.get("dryRun") for r in api.applied()} == {"All"}
    assert api.objects == {}


async def test_a_failed_step_removes_what_the_run_created_in_reverse() -> None:
    """NetworkPolicy fails: LimitRange, ResourceQuota, Namespace are deleted, in that order."""
    with FakeKubeApiServer(field_manager=MANAGER, fail_kinds={"NetworkPolicy"}).running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER)
        with pytest.raises(Exception, match="NetworkPolicy failed"):
            await apply_in_order(applier, manifests(), "provision tenant acme")

    deletes = [r.kind for r in api.requests if r.method == "DELETE"]
    assert deletes == ["LimitRange", "ResourceQuota", "Namespace"]
    assert api.objects == {}
    assert api.violations == []


async def test_compensation_leaves_objects_that_existed_before_the_run() -> None:
    """An object the run found in place (the namespace) is not deleted when a later step fails."""
    with FakeKubeApiServer(field_manager=MANAGER).running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER)
        await apply_in_order(applier, manifests()[:1], "namespace first")
        api.fail_kinds.add("Role")
        with pytest.raises(Exception, match="Role failed"):
            await apply_in_order(applier, manifests(), "provision tenant acme")

    deletes = [r.kind for r in api.requests if r.method == "DELETE"]
    assert deletes == ["NetworkPolicy", "NetworkPolicy", "LimitRange", "ResourceQuota"]
    assert [key[1] for key in api.objects] == ["Namespace"]


async def test_the_stand_in_refuses_a_request_that_breaks_the_apply_protocol() -> None:
    """A client that forgets force (or names another manager) gets 400 and a recorded violation."""
    with FakeKubeApiServer(field_manager="someone-else").running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER)
        with pytest.raises(Exception, match="fieldManager"):
            await apply_in_order(applier, manifests()[:1], "wrong manager")
    assert api.violations == ["fieldManager 'portico-tenancy', expected 'someone-else'"]


async def test_removing_a_tenant_deletes_its_namespace_and_with_it_everything_inside() -> None:
    """One DELETE of the Namespace; the API server takes what is in it; again: nothing to do."""
    with FakeKubeApiServer(field_manager=MANAGER).running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER)
        await apply_in_order(applier, manifests("acme"), "acme")
        await apply_in_order(applier, manifests("globex"), "globex")
        async with applier.session("remove tenant acme") as session:
            removed = await session.remove_namespace(namespace("acme"))
        async with applier.session("remove tenant acme again") as session:
            again = await session.remove_namespace(namespace("acme"))

    assert (removed, again) == (1, 0)
    assert api.violations == []
    deletes = [r for r in api.requests if r.method == "DELETE"]
    assert [(r.kind, r.path) for r in deletes] == [("Namespace", "/api/v1/namespaces/tenant-acme")]
    assert {key[2] or key[3] for key in api.objects} == {"tenant-globex"}
    assert len(api.objects) == len(KINDS)


async def test_a_terminating_namespace_is_not_done_until_it_is_gone() -> None:
    """While the cluster empties the namespace each attempt fails; one finding it gone ends."""
    with FakeKubeApiServer(field_manager=MANAGER, namespace_terminating_gets=2).running() as api:
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER)
        await apply_in_order(applier, manifests("acme"), "acme")
        outcomes: list[object] = []
        for _ in range(4):
            async with applier.session("remove tenant acme") as session:
                try:
                    outcomes.append(await session.remove_namespace(namespace("acme")))
                except NamespaceTerminatingError as exc:
                    outcomes.append(str(exc))

    terminating = "namespace tenant-acme is terminating: the cluster is still removing its objects"
    assert outcomes == [terminating, terminating, 0, 0]
    assert api.objects == {}
    # One DELETE only: later attempts see the Terminating phase and wait instead of asking again.
    assert [r.method for r in api.requests if r.kind == "Namespace"].count("DELETE") == 1


async def test_removing_in_dry_run_deletes_nothing() -> None:
    """dryRun=All on the DELETE; the namespace and its objects stay, and the call does not wait."""
    with FakeKubeApiServer(field_manager=MANAGER).running() as api:
        await apply_in_order(
            ServerSideApplier.for_server(api.url, field_manager=MANAGER), manifests(), "acme"
        )
        api.expect_dry_run = True
        applier = ServerSideApplier.for_server(api.url, field_manager=MANAGER, dry_run=True)
        async with applier.session("remove tenant acme") as session:
            removed = await session.remove_namespace(namespace("acme"))

    assert removed == 1
    assert api.violations == []
    assert [r.query.get("dryRun") for r in api.requests if r.method == "DELETE"] == ["All"]
    assert len(api.objects) == len(KINDS)
