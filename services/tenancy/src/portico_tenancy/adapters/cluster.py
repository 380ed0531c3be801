"""The ClusterApplier that talks to a Kubernetes API server: server-side apply (lightkube).

Every object is applied with `PATCH ...?fieldManager=<manager>&force=true`
and `Content-Type: application/apply-patch+yaml`, the API server's
server-side apply: it merges our fields, records us as their manager, and
takes them over from any other manager (force), so re-running a saga
converges instead of conflicting. `dry_run` adds `dryRun=All` to every
request: the server validates and answers, and stores nothing. A GET before
each apply tells whether the object existed, so compensation removes only
what this run created. Removing a tenant deletes its Namespace (the API server
removes what is in it) and is done only once a GET no longer finds it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.config.kubeconfig import KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace

from portico_tenancy.domain.provisioning import Manifest
from portico_tenancy.errors import NamespaceTerminatingError

NOT_FOUND = 404
CONFLICT = 409


class ServerSideApplier:
    """Applies manifests to the cluster `config` points at."""

    def __init__(
        self, config: KubeConfig | None, *, field_manager: str, dry_run: bool = False
    ) -> None:
        # None: lightkube finds the cluster itself (in-cluster service account, or KUBECONFIG).
        self._config = config
        self._field_manager = field_manager
        self._dry_run = dry_run

    @classmethod
    def for_server(
        cls, url: str, *, field_manager: str, token: str = "", dry_run: bool = False
    ) -> ServerSideApplier:
        """An applier for the API server at `url`, with a bearer token if one is given."""
        config = KubeConfig.from_dict(
            {
                "clusters": [{"name": "portico", "cluster": {"server": url}}],
                "users": [{"name": "portico", "user": {"token": token} if token else {}}],
                "contexts": [
                    {"name": "portico", "context": {"cluster": "portico", "user": "portico"}}
                ],
                "current-context": "portico",
            }
        )
        return cls(config, field_manager=field_manager, dry_run=dry_run)

    @asynccontextmanager
    async def session(self, description: str) -> AsyncIterator[ServerSideSession]:
        # Each object changes as it is applied: nothing to commit, the description stays unused.
        del description
        client = AsyncClient(
            config=self._config, field_manager=self._field_manager, dry_run=self._dry_run
        )
        try:
            yield ServerSideSession(client, self._field_manager, self._dry_run)
        finally:
            await client.close()


class ServerSideSession:
    def __init__(self, client: AsyncClient, field_manager: str, dry_run: bool) -> None:
        self._client = client
        self._field_manager = field_manager
        self._dry_run = dry_run

    async def apply(self, manifest: Manifest) -> bool:
        obj = codecs.from_dict(manifest)
        existed = await self._exists(type(obj), manifest)
        await self._client.apply(
            obj, field_manager=self._field_manager, force=True, dry_run=self._dry_run
        )
        return not existed

    async def delete(self, manifest: Manifest) -> None:
        obj = codecs.from_dict(manifest)
        metadata = manifest["metadata"]
        try:
            await self._client.delete(
                type(obj),  # type: ignore[type-var] # from_dict's union covers both scopes
                metadata["name"],
                namespace=metadata.get("namespace"),
                dry_run=self._dry_run,
            )
        except ApiError as exc:
            if exc.status.code != NOT_FOUND:
                raise

    async def remove_namespace(self, namespace: Manifest) -> int:
        # The API server removes every object of a deleted namespace itself; the
        # namespace stays, terminating, until they are all gone, and a DELETE of
        # it meanwhile is 409 Conflict: while it terminates this only looks.
        name = namespace["metadata"]["name"]
        terminating = NamespaceTerminatingError(
            f"namespace {name} is terminating: the cluster is still removing its objects"
        )
        found = await self._namespace(name)
        if found is None:
            return 0
        if found.status is not None and found.status.phase == "Terminating":
            raise terminating
        try:
            await self._client.delete(Namespace, name, dry_run=self._dry_run)
        except ApiError as exc:
            if exc.status.code == NOT_FOUND:
                return 0
            if exc.status.code == CONFLICT:
                raise terminating from None
            raise
        if not self._dry_run and await self._namespace(name) is not None:
            raise terminating
        return 1

    async def _namespace(self, name: str) -> Namespace | None:
        try:
            return await self._client.get(Namespace, name)
        except ApiError as exc:
            if exc.status.code == NOT_FOUND:
                return None
            raise

    async def _exists(self, kind: Any, manifest: Manifest) -> bool:
        metadata = manifest["metadata"]
        try:
            await self._client.get(kind, metadata["name"], namespace=metadata.get("namespace"))
        except ApiError as exc:
            if exc.status.code == NOT_FOUND:
                return False
            raise
        return True
