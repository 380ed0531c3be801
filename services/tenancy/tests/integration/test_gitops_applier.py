"""GitOps provisioning against a real git repository (a bare one made by the git CLI).

The manifests land as one commit per saga on the branch, in the layout Argo
CD and Flux read (a folder per tenant namespace with a kustomization.yaml);
each file is valid against the Kubernetes schemas; a failed saga commits nothing.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped] # the package ships no type information
import pytest
import yaml

from portico_tenancy.adapters.gitops import GitOpsApplier
from portico_tenancy.app.provisioning import apply_in_order
from portico_tenancy.domain.provisioning import (
    ProvisioningSpec,
    namespace_manifest,
    provisioning_manifests,
)
from portico_tenancy.domain.quota import Quota, Resources

pytestmark = pytest.mark.integration

FOLDER = "tenants/tenant-acme"


def git(remote: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - a fixed git command on a test's own repository
        ["git", f"--git-dir={remote}", *args],  # noqa: S607 - git from PATH, as a developer runs it
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """An empty bare repository whose default branch is main."""
    path = tmp_path / "platform.git"
    subprocess.run(  # noqa: S603 - a fixed git command on a test's own folder
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)],  # noqa: S607
        check=True,
    )
    return path


def quota(cpu: int, revision: int) -> Quota:
    return Quota(
        "acme", Resources(cpu, 8192, 20480), 10, revision, datetime(2026, 3, 1, tzinfo=UTC)
    )


async def test_a_saga_is_one_commit_of_valid_manifests_in_a_kustomize_folder(remote: Path) -> None:
    """Eleven manifests and a kustomization.yaml listing them, all in one commit on main."""
    applier = GitOpsApplier(str(remote))
    await apply_in_order(
        applier,
        provisioning_manifests("acme", quota(4000, 1), ProvisioningSpec()),
        "provision acme",
    )

    assert git(remote, "log", "--format=%s", "main").splitlines() == ["provision acme"]
    files = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert len(files) == 12
    assert all(f.startswith(f"{FOLDER}/") for f in files)
    kustomization = yaml.safe_load(git(remote, "show", f"main:{FOLDER}/kustomization.yaml"))
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(
        f.rsplit("/", 1)[1] for f in files if not f.endswith("kustomization.yaml")
    )
    for name in kustomization["resources"]:
        manifest = yaml.safe_load(git(remote, "show", f"main:{FOLDER}/{name}"))
        kubernetes_validate.validate(manifest, "1.37.0", strict=True)
    resource_quota = yaml.safe_load(
        git(remote, "show", f"main:{FOLDER}/resourcequota-tenant-quota.yaml")
    )
    assert resource_quota["spec"]["hard"]["limits.cpu"] == "4000m"


async def test_a_new_quota_commits_only_what_changed_and_a_repeat_commits_nothing(
    remote: Path,
) -> None:
    """A raised quota changes the ResourceQuota and LimitRange files; a repeat is a no-op."""
    applier = GitOpsApplier(str(remote))
    spec = ProvisioningSpec()
    await apply_in_order(applier, provisioning_manifests("acme", quota(4000, 1), spec), "first")
    await apply_in_order(applier, provisioning_manifests("acme", quota(8000, 2), spec), "quota")
    await apply_in_order(applier, provisioning_manifests("acme", quota(8000, 2), spec), "again")

    assert git(remote, "log", "--format=%s", "main").splitlines() == ["quota", "first"]
    changed = git(remote, "diff", "--name-only", "main~1", "main").splitlines()
    assert changed == [
        f"{FOLDER}/limitrange-tenant-limits.yaml",
        f"{FOLDER}/resourcequota-tenant-quota.yaml",
    ]


async def test_a_failed_saga_commits_nothing(remote: Path) -> None:
    """A step that fails after some files were written leaves the repository as it was."""
    applier = GitOpsApplier(str(remote))
    manifests = provisioning_manifests("acme", None, ProvisioningSpec())
    await apply_in_order(applier, manifests[:1], "namespace")
    broken = [*manifests[:3], {"kind": "Role", "metadata": {"name": "../escape"}}]

    with pytest.raises(KeyError):
        await apply_in_order(applier, broken, "broken")

    assert git(remote, "log", "--format=%s", "main").splitlines() == ["namespace"]
    assert git(remote, "ls-tree", "-r", "--name-only", "main").splitlines() == [
        f"{FOLDER}/kustomization.yaml",
        f"{FOLDER}/namespace-tenant-acme.yaml",
    ]


async def test_removing_a_tenant_is_one_commit_that_deletes_its_folder_only(
    remote: Path,
) -> None:
    """Every file of the tenant's folder goes in one commit; another tenant's stay; again: none."""
    applier = GitOpsApplier(str(remote))
    spec = ProvisioningSpec()
    await apply_in_order(applier, provisioning_manifests("acme", None, spec), "acme")
    await apply_in_order(applier, provisioning_manifests("globex", None, spec), "globex")

    async with applier.session("remove tenant acme") as session:
        removed = await session.remove_namespace(namespace_manifest("acme", spec))
    async with applier.session("remove tenant acme again") as session:
        again = await session.remove_namespace(namespace_manifest("acme", spec))

    # Eleven manifests and the kustomization.yaml listing them.
    assert (removed, again) == (12, 0)
    assert git(remote, "log", "--format=%s", "main").splitlines() == [
        "remove tenant acme",
        "globex",
        "acme",
    ]
    deleted = git(remote, "diff", "--name-status", "main~1", "main").splitlines()
    assert len(deleted) == 12
    assert all(line.startswith("D\t" + FOLDER + "/") for line in deleted)
    left = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert left
    assert all(path.startswith("tenants/tenant-globex/") for path in left)
