"""The gateway exposes slo's BreakerService (breakers.proto) from its annotations."""

from __future__ import annotations

import pytest

from portico_gateway.routes import RouteMatch, build_route_table

BASE = "/v1/tenants/acme/breakers"
TENANT = {"tenant_id": "acme"}
ONE = {**TENANT, "breaker_id": "b1"}


@pytest.mark.parametrize(
    ("method", "path", "rpc", "params"),
    [
        ("GET", f"{BASE}/b1", "GetBreaker", ONE),
        ("GET", BASE, "ListBreakers", TENANT),
        ("POST", BASE, "ConfigureBreaker", TENANT),
        ("POST", f"{BASE}/b1:force", "ForceBreaker", ONE),
        ("DELETE", f"{BASE}/b1", "DeleteBreaker", ONE),
    ],
)
def test_breaker_routes(method: str, path: str, rpc: str, params: dict[str, str]) -> None:
    """Each BreakerService RPC is routed to slo with its path variables."""
    found = build_route_table().match(method, path)
    assert isinstance(found, RouteMatch)
    assert found.route.service == "slo"
    assert found.route.grpc_method == f"/portico.slo.v1.BreakerService/{rpc}"
    assert found.path_params == params
