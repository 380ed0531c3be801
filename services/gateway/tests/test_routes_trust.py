"""The gateway exposes security's advisory and trust RPCs (trust.proto) from their annotations."""

from __future__ import annotations

import pytest

from portico_gateway.routes import RouteMatch, build_route_table


@pytest.mark.parametrize(
    ("method", "path", "rpc", "params"),
    [
        ("POST", "/v1/advisories:import", "AdvisoryService/ImportAdvisories", {}),
        (
            "POST",
            "/v1/tenants/acme/advisories:match",
            "AdvisoryService/ListAdvisoryMatches",
            {"tenant_id": "acme"},
        ),
        ("POST", "/v1/tenants/acme/trust:score", "TrustService/ScoreTrust", {"tenant_id": "acme"}),
        (
            "GET",
            "/v1/tenants/acme/trust-scores/abc",
            "TrustService/GetTrustScore",
            {"tenant_id": "acme", "score_id": "abc"},
        ),
        (
            "GET",
            "/v1/tenants/acme/trust-policy",
            "TrustService/GetTrustPolicy",
            {"tenant_id": "acme"},
        ),
        (
            "PUT",
            "/v1/tenants/acme/trust-policy",
            "TrustService/SetTrustWeights",
            {"tenant_id": "acme"},
        ),
    ],
)
def test_trust_routes(method: str, path: str, rpc: str, params: dict[str, str]) -> None:
    """Each annotated advisory/trust RPC is routed to security with its path variables."""
    found = build_route_table().match(method, path)
    assert isinstance(found, RouteMatch)
    assert found.route.service == "security"
    assert found.route.grpc_method == f"/portico.security.v1.{rpc}"
    assert found.path_params == params
