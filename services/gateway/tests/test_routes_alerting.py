"""The gateway exposes slo's AlertingService (alerting.proto) from its annotations."""

from __future__ import annotations

import pytest

from portico_gateway.routes import RouteMatch, build_route_table

BASE = "/v1/tenants/acme/alerting"
TENANT = {"tenant_id": "acme"}


@pytest.mark.parametrize(
    ("method", "path", "rpc", "params"),
    [
        ("GET", f"{BASE}/routing", "GetRoutingTree", TENANT),
        ("PUT", f"{BASE}/routing", "SetRoutingTree", TENANT),
        ("DELETE", f"{BASE}/routing", "DeleteRoutingTree", TENANT),
        ("POST", f"{BASE}/channels", "CreateChannel", TENANT),
        ("GET", f"{BASE}/channels", "ListChannels", TENANT),
        ("GET", f"{BASE}/channels/c1", "GetChannel", {**TENANT, "channel_id": "c1"}),
        ("PATCH", f"{BASE}/channels/c1", "UpdateChannel", {**TENANT, "channel_id": "c1"}),
        ("DELETE", f"{BASE}/channels/c1", "DeleteChannel", {**TENANT, "channel_id": "c1"}),
        ("POST", f"{BASE}/silences", "CreateSilence", TENANT),
        ("GET", f"{BASE}/silences", "ListSilences", TENANT),
        ("GET", f"{BASE}/silences/s1", "GetSilence", {**TENANT, "silence_id": "s1"}),
        ("PUT", f"{BASE}/silences/s1", "UpdateSilence", {**TENANT, "silence_id": "s1"}),
        ("DELETE", f"{BASE}/silences/s1", "ExpireSilence", {**TENANT, "silence_id": "s1"}),
        ("GET", f"{BASE}/alerts", "ListAlerts", TENANT),
        ("GET", f"{BASE}/history", "ListAlertHistory", TENANT),
        ("GET", f"{BASE}/deliveries", "ListDeliveries", TENANT),
    ],
)
def test_alerting_routes(method: str, path: str, rpc: str, params: dict[str, str]) -> None:
    """Each AlertingService RPC is routed to slo with its path variables."""
    found = build_route_table().match(method, path)
    assert isinstance(found, RouteMatch)
    assert found.route.service == "slo"
    assert found.route.grpc_method == f"/portico.slo.v1.AlertingService/{rpc}"
    assert found.path_params == params
