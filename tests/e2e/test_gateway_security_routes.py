"""The gateway's routes to security's publisher key lifecycle, as built from the proto annotations.

A suite-level test: it needs the gateway's route table, and a service's own tests may not
import another service.
"""

from __future__ import annotations

from portico_gateway.routes import build_route_table


def test_the_gateway_exposes_the_key_lifecycle_routes() -> None:
    """Rotate, revoke and list are reachable through the gateway from their annotations."""
    bindings = {
        (r.http_method, r.template, r.grpc_method.rsplit("/", 1)[1]) for r in build_route_table()
    }
    assert {
        ("POST", "/v1/tenants/{tenant_id}/publisher-keys/{key_id}:rotate", "RotatePublisherKey"),
        ("POST", "/v1/tenants/{tenant_id}/publisher-keys/{key_id}:revoke", "RevokePublisherKey"),
        ("GET", "/v1/tenants/{tenant_id}/publisher-keys", "ListPublisherKeys"),
    } <= bindings
