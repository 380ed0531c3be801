"""The gateway exposes rollout's controls, decisions, replay and the canary-deployment API."""

from __future__ import annotations

import pytest

from portico_gateway.routes import RouteMatch, build_route_table

BASE = "/v1/tenants/acme/rollouts"
API = "/api/plugins/canary-deployment"
TENANT = {"tenant_id": "acme"}
ONE = {**TENANT, "rollout_id": "ro-1"}


@pytest.mark.parametrize(
    ("method", "path", "rpc", "params"),
    [
        ("POST", BASE, "RequestRollout", TENANT),
        ("GET", BASE, "ListRollouts", TENANT),
        ("GET", f"{BASE}/ro-1", "GetRollout", ONE),
        ("POST", f"{BASE}/ro-1:pause", "PauseRollout", ONE),
        ("POST", f"{BASE}/ro-1:resume", "ResumeRollout", ONE),
        ("POST", f"{BASE}/ro-1:promote", "PromoteRollout", ONE),
        ("POST", f"{BASE}/ro-1:abort", "AbortRollout", ONE),
        ("POST", f"{BASE}/ro-1:retry", "RetryRollout", ONE),
        ("POST", f"{BASE}/ro-1:replay", "ReplayRollout", ONE),
        ("GET", f"{BASE}/ro-1/decisions", "ListRolloutDecisions", ONE),
        (
            "POST",
            f"{BASE}/ro-1/phases/2:decide",
            "DecideRolloutApproval",
            {**ONE, "phase_index": "2"},
        ),
        ("GET", "/v1/tenants/acme/rollout-audit", "ListRolloutAudit", TENANT),
        # The seed's API: create, list, get, update (the controls), delete (abort).
        ("POST", API, "RequestRollout", {}),
        ("GET", API, "ListRollouts", {}),
        ("GET", f"{API}/ro-1", "GetRollout", {"rollout_id": "ro-1"}),
        ("PATCH", f"{API}/ro-1", "UpdateRollout", {"rollout_id": "ro-1"}),
        ("DELETE", f"{API}/ro-1", "AbortRollout", {"rollout_id": "ro-1"}),
    ],
)
def test_rollout_routes(method: str, path: str, rpc: str, params: dict[str, str]) -> None:
    """Each RolloutService binding is routed to rollout with its path variables."""
    found = build_route_table().match(method, path)
    assert isinstance(found, RouteMatch), (method, path)
    assert found.route.service == "rollout"
    assert found.route.grpc_method == f"/portico.rollout.v1.RolloutService/{rpc}"
    assert found.path_params == params
