"""The ClusterApplier that commits manifests to a git repository for Argo CD or Flux (dulwich).

Layout, under `path` (default `tenants/`) on `branch`:

    tenants/<namespace>/kustomization.yaml       lists the files beside it
    tenants/<namespace>/<kind>-<name>.yaml       one object per file

A Flux Kustomization or an Argo CD Application pointed at `tenants/` (or at
one tenant's folder) syncs them; both read a kustomization.yaml. A session
clones the branch into a scratch folder, writes (or removes) files as the
saga applies (or compensates), or removes a tenant's whole folder, and on a
clean end commits them as one commit and pushes; an error discards the
scratch folder, so the repository never holds half a saga. Sessions in one
process take turns; a push that another writer beat is rejected by git and
the attempt fails, to be retried.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import yaml
from dulwich import porcelain
from dulwich.errors import NotGitRepository
from dulwich.refs import Ref
from dulwich.repo import Repo

from portico_tenancy.domain.provisioning import Manifest

KUSTOMIZATION = "kustomization.yaml"


class GitOpsApplier:
    """Commits manifests to `repository` (a URL or path dulwich can clone and push to)."""

    def __init__(
        self,
        repository: str,
        *,
        branch: str = "main",
        path: str = "tenants",
        author: str = "Portico tenancy <tenancy@portico.invalid>",
    ) -> None:
        self._repository = repository
        self._branch = branch
        self._path = path.strip("/")
        self._author = author.encode()
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def session(self, description: str) -> AsyncIterator[GitOpsSession]:
        async with self._turn:
            with tempfile.TemporaryDirectory(prefix="portico-gitops-") as scratch:
                checkout = Path(scratch)
                repo = await asyncio.to_thread(self._clone, checkout)
                try:
                    session = GitOpsSession(checkout, self._path)
                    yield session
                    await asyncio.to_thread(self._publish, repo, session, description)
                finally:
                    repo.close()

    def _clone(self, checkout: Path) -> Repo:
        quiet = io.BytesIO()
        try:
            return porcelain.clone(
                self._repository,
                str(checkout),
                branch=self._branch,
                errstream=quiet,
            )
        except (KeyError, ValueError, NotGitRepository):
            # An empty repository, or one without the branch yet: our first
            # commit starts it.
            for leftover in checkout.iterdir():
                _remove_tree(leftover)
            repo = porcelain.clone(self._repository, str(checkout), errstream=quiet)
            repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(f"refs/heads/{self._branch}".encode()))
            return repo

    def _publish(self, repo: Repo, session: GitOpsSession, description: str) -> None:
        changed = session.finish()
        if not changed:
            return
        root = Path(repo.path)
        present = [p for p in changed if (root / p).exists()]
        gone = [p for p in changed if not (root / p).exists()]
        if present:
            porcelain.add(repo, [str(root / p) for p in present])
        if gone:
            porcelain.remove(repo, [str(root / p) for p in gone], cached=True)
        if not any(porcelain.status(repo).staged.values()):
            return  # the repository already says exactly this
        porcelain.commit(repo, description.encode(), author=self._author, committer=self._author)
        ref = f"refs/heads/{self._branch}".encode()
        quiet = io.BytesIO()
        porcelain.push(repo, self._repository, [ref + b":" + ref], outstream=quiet, errstream=quiet)


class GitOpsSession:
    """Writes and removes manifest files in a checkout; `finish` lists what changed."""

    def __init__(self, checkout: Path, path: str) -> None:
        self._checkout = checkout
        self._path = path
        self._touched: set[Path] = set()
        self._folders: set[Path] = set()

    async def apply(self, manifest: Manifest) -> bool:
        file = self._file(manifest)
        existed = file.exists()
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(yaml.safe_dump(manifest, sort_keys=False))
        self._touched.add(file)
        return not existed

    async def delete(self, manifest: Manifest) -> None:
        file = self._file(manifest)
        file.unlink(missing_ok=True)
        self._touched.add(file)

    async def remove_namespace(self, namespace: Manifest) -> int:
        # The whole folder goes: what the repository no longer lists, the GitOps tool prunes.
        folder = self._checkout / self._path / _safe(namespace["metadata"]["name"])
        if not folder.is_dir():
            return 0
        files = [f for f in folder.rglob("*") if f.is_file()]
        _remove_tree(folder)
        self._touched.update(files)
        self._folders.discard(folder)
        return len(files)

    def finish(self) -> list[str]:
        """Rewrites each touched folder's kustomization; the paths that changed, repo-relative."""
        for folder in self._folders:
            kustomization = folder / KUSTOMIZATION
            resources = sorted(f.name for f in folder.glob("*.yaml") if f.name != KUSTOMIZATION)
            if resources:
                kustomization.write_text(
                    yaml.safe_dump(
                        {
                            "apiVersion": "kustomize.config.k8s.io/v1beta1",
                            "kind": "Kustomization",
                            "resources": resources,
                        },
                        sort_keys=False,
                    )
                )
            else:
                kustomization.unlink(missing_ok=True)
            self._touched.add(kustomization)
        return sorted(str(p.relative_to(self._checkout)) for p in self._touched)

    def _file(self, manifest: Manifest) -> Path:
        metadata = manifest["metadata"]
        kind = str(manifest["kind"])
        folder_name = metadata["name"] if kind == "Namespace" else metadata["namespace"]
        folder = self._checkout / self._path / _safe(folder_name)
        self._folders.add(folder)
        return folder / f"{_safe(kind.lower())}-{_safe(metadata['name'])}.yaml"


def _safe(name: str) -> str:
    # Kubernetes names are DNS labels or subdomains already; refuse anything
    # that could climb out of the folder.
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"{name!r} cannot name a manifest file")
    return name


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            _remove_tree(child)
        path.rmdir()
    else:
        path.unlink()
