"""Server-side apply as the Kubernetes API sees it, against a local HTTP server.

No cluster runs here: the server below speaks only the part of the API the
applier uses (PATCH with an apply patch, DELETE) and records what came, so
the request's shape is checked; a real API server is not exercised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portico_rollout.adapters.httproute import RouteLayout, render
from portico_rollout.adapters.kube_apply import APPLY_PATCH, KubernetesApplier
from portico_rollout.domain.assignment import Assignment
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import RouteApplyError
from portico_rollout.testing.driver import eventually

pytestmark = pytest.mark.integration

ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{name}"


class ApiServer:
    """Records requests; answers 200 for an apply, 404 for a delete of nothing."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.refuse = False

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "content_type": request.headers.get("content-type", ""),
                "authorization": request.headers.get("authorization", ""),
                "body": yaml.safe_load(body) if body else None,
            }
        )
        if self.refuse:
            return JSONResponse({"kind": "Status", "reason": "Invalid"}, status_code=422)
        if request.method == "DELETE":
            return JSONResponse({"kind": "Status", "reason": "NotFound"}, status_code=404)
        return JSONResponse(yaml.safe_load(body))


@pytest.fixture
async def api() -> AsyncIterator[tuple[ApiServer, str]]:
    recorder = ApiServer()
    app = Starlette(routes=[Route(ROUTE, recorder.handle, methods=["PATCH", "DELETE"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield recorder, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_routes_are_server_side_applied_with_rollouts_field_manager(
    api: tuple[ApiServer, str], tmp_path: Path
) -> None:
    """PATCH with an apply patch, fieldManager and force, the service account's bearer token."""
    recorder, url = api
    token = tmp_path / "token"
    token.write_text("sa-token\n")
    applier = KubernetesApplier(url, token_file=token)
    assignment = Assignment(
        "acme",
        "@acme/plugin-cost-insights-backend",
        stable_version="2.2.0",
        rollout_id="ro-1",
        canary_version="2.3.0",
        state=RolloutState.IN_PROGRESS,
        percent=10,
    )
    manifest = render(assignment, RouteLayout())
    assert manifest is not None
    try:
        await applier.apply(manifest)
        await applier.delete("portico-acme", "acme-plugin-cost-insights-backend")
        recorder.refuse = True
        with pytest.raises(RouteApplyError, match="HTTP 422"):
            await applier.apply(manifest)
    finally:
        await applier.close()
    applied, deleted, _ = recorder.requests
    path = "/apis/gateway.networking.k8s.io/v1/namespaces/portico-acme/httproutes/"
    assert applied["method"] == "PATCH"
    assert applied["path"] == path + "acme-plugin-cost-insights-backend"
    assert applied["query"] == {"fieldManager": "portico-rollout", "force": "true"}
    assert applied["content_type"] == APPLY_PATCH
    assert applied["authorization"] == "Bearer sa-token"
    assert applied["body"] == manifest
    assert (deleted["method"], deleted["path"]) == ("DELETE", applied["path"])
