"""The gateway's own endpoints: health, JWKS, the route list and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from prometheus_client import CollectorRegistry

from portico_gateway.app import create_app

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Upstream


async def test_healthz_answers_200_json(client: httpx.AsyncClient) -> None:
    """GET /healthz reports the gateway alive and lists its configured upstreams."""
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "upstreams": ["auth", "tenancy"]}


async def test_jwks_is_served_as_a_plain_jwk_set(client: httpx.AsyncClient) -> None:
    """/.well-known/jwks.json relays GetJwks without the proto's empty members."""
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.json() == {
        "keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg", "kid": "k1"}]
    }


async def test_route_list_shows_every_transcoded_route(client: httpx.AsyncClient) -> None:
    """GET /v1/routes lists the bindings, including which upstreams are configured."""
    response = await client.get("/v1/routes")

    routes = response.json()["routes"]
    verify = next(r for r in routes if r["path"] == "/v1/tenants/{tenant_id}/artifacts:verify")
    assert verify["method"] == "POST"
    assert verify["rpc"] == "/portico.security.v1.SecurityService/VerifyArtifact"
    assert verify["upstream_configured"] is False
    get_tenant = next(r for r in routes if r["path"] == "/v1/tenants/{tenant_id}")
    assert get_tenant["upstream_configured"] is True


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, upstream: Upstream
) -> None:
    """Requests are counted under their path template, never their concrete path."""
    await client.get("/v1/tenants/nobody")
    await client.get("/v1/not/a/route")

    text = (await client.get("/metrics")).text

    assert (
        'portico_gateway_requests_total{method="GET",route="/v1/tenants/{tenant_id}",status="404"}'
        " 1.0" in text
    )
    assert 'route="unmatched"' in text
    assert "nobody" not in text
    count = upstream.registry.get_sample_value(
        "portico_gateway_request_duration_seconds_count", {"route": "/v1/tenants/{tenant_id}"}
    )
    assert count == 1


async def test_jwks_without_an_auth_upstream_is_a_503_problem() -> None:
    """With no auth target configured, the JWKS endpoint says which service is missing."""
    app = create_app({}, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as http,
    ):
        response = await http.get("/.well-known/jwks.json")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "auth" in response.json()["detail"]


OPENMETRICS = "application/openmetrics-text; version=1.0.0"


async def test_the_latency_histogram_names_each_requests_trace_in_openmetrics(
    client: httpx.AsyncClient,
) -> None:
    """A request's latency bucket carries its trace id as an exemplar, in OpenMetrics only.

    The request continues the client's trace, so the exemplar is that trace; the
    response's traceresponse names the same trace.
    """
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await client.get(
        "/v1/tenants/nobody", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )
    assert response.status_code == 404
    assert response.headers["traceresponse"].split("-")[1] == trace_id

    scraped = await client.get("/metrics", headers={"accept": OPENMETRICS})

    assert scraped.headers["content-type"].startswith("application/openmetrics-text")
    buckets = [
        line
        for line in scraped.text.splitlines()
        if line.startswith("portico_gateway_request_duration_seconds_bucket{")
        and 'route="/v1/tenants/{tenant_id}"' in line
    ]
    exemplars = [line for line in buckets if "# {" in line]
    assert len(exemplars) == 1, buckets
    assert f'# {{trace_id="{trace_id}"}}' in exemplars[0]
    plain = (await client.get("/metrics")).text
    assert "trace_id" not in plain, "the Prometheus text format carries no exemplars"
    assert scraped.text.rstrip().endswith("# EOF")
