"""The RouteApplier on a Kubernetes API server: server-side apply of rendered HTTPRoutes.

`PATCH .../httproutes/<name>?fieldManager=portico-rollout&force=true` with
`application/apply-patch+yaml`: the server merges the fields rollout owns
and leaves others' alone, and applying the same route twice is a no-op, so
every replica may apply every change. A route no longer wanted is deleted
(a 404 means it is gone already). The service account's token is read on
every call, since projected tokens rotate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from portico_rollout.adapters.httproute import API_VERSION, MANAGED_BY, to_yaml
from portico_rollout.errors import RouteApplyError

APPLY_PATCH = "application/apply-patch+yaml"


class KubernetesApplier:
    """Server-side apply over HTTPS (or HTTP to a local API proxy)."""

    def __init__(
        self,
        api_url: str,
        *,
        token_file: Path | None = None,
        ca_file: Path | None = None,
        timeout_seconds: float = 10.0,
        field_manager: str = MANAGED_BY,
    ) -> None:
        self._api = api_url.rstrip("/")
        self._token_file = token_file
        verify: Any = str(ca_file) if ca_file is not None and ca_file.exists() else True
        self._client = httpx.AsyncClient(timeout=timeout_seconds, verify=verify)
        self._field_manager = field_manager

    def _url(self, namespace: str, name: str) -> str:
        return f"{self._api}/apis/{API_VERSION}/namespaces/{namespace}/httproutes/{name}"

    def _headers(self) -> dict[str, str]:
        if self._token_file is None or not self._token_file.exists():
            return {}
        return {"Authorization": f"Bearer {self._token_file.read_text().strip()}"}

    async def apply(self, manifest: dict[str, Any]) -> None:
        meta = manifest["metadata"]
        response = await self._client.patch(
            self._url(meta["namespace"], meta["name"]),
            params={"fieldManager": self._field_manager, "force": "true"},
            content=to_yaml(manifest).encode(),
            headers={**self._headers(), "Content-Type": APPLY_PATCH},
        )
        if response.is_error:
            raise RouteApplyError(meta["name"], response.status_code, response.text[:500])

    async def delete(self, namespace: str, name: str) -> None:
        response = await self._client.delete(self._url(namespace, name), headers=self._headers())
        if response.is_error and response.status_code != httpx.codes.NOT_FOUND:
            raise RouteApplyError(name, response.status_code, response.text[:500])

    async def close(self) -> None:
        await self._client.aclose()
