"""Transcoding: JSON bodies, path variables and query parameters into request messages."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from google.protobuf.message import Message

from portico.events.v1 import events_pb2
from portico.rollout.v1 import rollout_pb2
from portico.security.v1 import security_pb2
from portico.slo.v1 import slo_pb2
from portico_gateway.errors import RequestError
from portico_gateway.routes import Route, RouteMatch, RouteTable
from portico_gateway.templates import parse_template
from portico_gateway.transcode import build_request, render_response


def route(
    request_type: type[Message],
    template: str = "/t/{tenant_id}",
    *,
    body: str = "*",
    method: str = "POST",
    response_body: str = "",
) -> Route:
    return Route(
        http_method=method,
        path=parse_template(template),
        body=body,
        response_body=response_body,
        service="test",
        grpc_method="/test.v1.TestService/Call",
        request_type=request_type,
        response_type=request_type,
    )


def transcode(
    bound: Route,
    path: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    content_type: str | None = "application/json",
    query: Sequence[tuple[str, str]] = (),
) -> Message:
    found = RouteTable([bound]).match(bound.http_method, path)
    assert isinstance(found, RouteMatch)
    payload = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
    return build_request(found, payload, content_type, query)


def refused(*args: object, **kwargs: object) -> RequestError:
    with pytest.raises(RequestError) as caught:
        transcode(*args, **kwargs)  # type: ignore[arg-type]
    return caught.value


VERIFY = route(security_pb2.VerifyArtifactRequest)
GET_ROLLOUTS = route(rollout_pb2.RequestRolloutRequest, body="", method="GET")


def test_camel_case_and_proto_names_both_fill_fields() -> None:
    """`keyId` and `key_id` are the same field, as in canonical proto JSON."""
    camel = transcode(VERIFY, "/t/acme", {"keyId": "k1", "plugin": "p"})
    snake = transcode(VERIFY, "/t/acme", {"key_id": "k1", "plugin": "p"})

    assert camel == snake
    assert camel == security_pb2.VerifyArtifactRequest(tenant_id="acme", key_id="k1", plugin="p")


def test_bytes_fields_take_base64() -> None:
    """A bytes field is base64 in JSON and raw bytes in the message."""
    message = transcode(VERIFY, "/t/acme", {"tarball": "aGVsbG8="})

    assert isinstance(message, security_pb2.VerifyArtifactRequest)
    assert message.tarball == b"hello"


def test_path_variable_agreeing_with_the_body_is_accepted() -> None:
    """Repeating the path's value in the body is harmless."""
    message = transcode(VERIFY, "/t/acme", {"tenantId": "acme"})

    assert isinstance(message, security_pb2.VerifyArtifactRequest)
    assert message.tenant_id == "acme"


def test_path_variable_contradicting_the_body_is_a_400() -> None:
    """A body that names another tenant than the path is refused, not overridden."""
    error = refused(VERIFY, "/t/acme", {"tenantId": "globex"})

    assert error.status == 400
    assert "'acme'" in error.detail
    assert "'globex'" in error.detail


def test_path_variables_are_converted_to_the_field_type() -> None:
    """A numeric path segment fills a numeric field; a non-number is a 400."""
    bound = route(rollout_pb2.RequestRolloutRequest, "/r/{bake_seconds}", body="")

    message = transcode(bound, "/r/30")

    assert isinstance(message, rollout_pb2.RequestRolloutRequest)
    assert message.bake_seconds == 30
    assert refused(bound, "/r/abc").status == 400


def test_query_parameters_bind_scalar_and_repeated_fields() -> None:
    """On a body-less route, query values are typed and repeated keys accumulate."""
    query = [("plugin", "p"), ("phases", "10"), ("phases", "50"), ("bakeSeconds", "30")]

    message = transcode(GET_ROLLOUTS, "/t/acme", query=query)

    assert message == rollout_pb2.RequestRolloutRequest(
        tenant_id="acme", plugin="p", phases=[10, 50], bake_seconds=30
    )


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ([("bakeSeconds", "soon")], "bakeSeconds"),
        ([("plugn", "p")], "plugn"),
        ([("plugin", "a"), ("plugin", "b")], "more than once"),
        ([("tenant_id", "other")], "bound by the path"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_them(
    query: list[tuple[str, str]], fragment: str
) -> None:
    """Untyped, unknown, duplicated or path-bound query parameters are refused precisely."""
    error = refused(GET_ROLLOUTS, "/t/acme", query=query)

    assert error.status == 400
    assert fragment in error.detail


def test_query_parameters_are_refused_when_the_body_takes_every_field() -> None:
    """With `body: "*"` nothing is left for the query to bind."""
    assert refused(VERIFY, "/t/acme", {}, query=[("plugin", "p")]).status == 400


def test_query_booleans_accept_true_and_false() -> None:
    """`?satisfied=true` fills a bool, which JSON would only take unquoted."""
    bound = route(events_pb2.CompatFinding, "/f/{name}", body="", method="GET")

    message = transcode(bound, "/f/node", query=[("satisfied", "true")])

    assert message == events_pb2.CompatFinding(name="node", satisfied=True)
    assert refused(bound, "/f/node", query=[("satisfied", "maybe")]).status == 400


def test_query_accepts_well_known_types_as_text() -> None:
    """A Timestamp takes RFC 3339 text; its inner fields are not addressable."""
    bound = route(events_pb2.SloViolated, body="", method="GET")

    message = transcode(
        bound,
        "/t/acme",
        query=[("detectedAt", "2026-01-01T00:00:00Z"), ("shortWindowBurnRate", "14.4")],
    )

    assert isinstance(message, events_pb2.SloViolated)
    assert message.detected_at.seconds == 1_767_225_600
    assert message.short_window_burn_rate == pytest.approx(14.4)
    assert refused(bound, "/t/acme", query=[("detected_at.seconds", "5")]).status == 400


def test_query_dotted_paths_reach_into_nested_messages() -> None:
    """`rollout.plugin` sets a field of the nested Rollout message."""
    bound = route(rollout_pb2.GetRolloutResponse, "/g", body="", method="GET")

    message = transcode(bound, "/g", query=[("rollout.plugin", "p"), ("rollout.phases", "10")])

    assert message == rollout_pb2.GetRolloutResponse(
        rollout=rollout_pb2.Rollout(plugin="p", phases=[10])
    )


def test_a_body_field_binding_takes_the_body_as_that_field() -> None:
    """`body: "outcomes"` reads the JSON body as the outcomes list; the query fills the rest."""
    bound = route(slo_pb2.ReportOutcomesRequest, body="outcomes")

    message = transcode(
        bound, "/t/acme", [{"success": True, "latencyMs": 12}], query=[("plugin", "p")]
    )

    assert message == slo_pb2.ReportOutcomesRequest(
        tenant_id="acme", plugin="p", outcomes=[slo_pb2.Outcome(success=True, latency_ms=12)]
    )
    assert refused(bound, "/t/acme", {"success": True}).status == 400


def test_a_body_on_a_body_less_route_is_refused() -> None:
    """Data the route cannot use is refused rather than dropped."""
    assert refused(GET_ROLLOUTS, "/t/acme", {"plugin": "p"}).status == 400


def test_an_empty_body_means_no_fields() -> None:
    """POST without a body is a request whose only fields come from the path."""
    message = transcode(VERIFY, "/t/acme", content_type=None)

    assert message == security_pb2.VerifyArtifactRequest(tenant_id="acme")


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"[1, 2]", "application/json"),
        (b'{"plugin": "a", "plugin": "b"}', "application/json"),
        (b'{"plugin": 5}', "application/json"),
        (b'{"plugin": "\xff"}', "application/json"),
        (b'{"plugin": "p"}', "application/json; charset=latin-1"),
    ],
)
def test_bodies_that_are_not_a_clean_json_object_are_a_400(raw: bytes, content_type: str) -> None:
    """Arrays, duplicate keys, wrong types, non-UTF-8 bytes and other charsets are refused."""
    assert refused(VERIFY, "/t/acme", raw=raw, content_type=content_type).status == 400


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/x+json"])
def test_json_media_types_with_parameters_or_suffixes_are_accepted(content_type: str) -> None:
    """The media type is compared without its parameters, and `+json` counts as JSON."""
    message = transcode(VERIFY, "/t/acme", raw=b'{"plugin": "p"}', content_type=content_type)

    assert isinstance(message, security_pb2.VerifyArtifactRequest)
    assert message.plugin == "p"


def test_responses_show_zero_values_in_camel_case() -> None:
    """A reply with nothing set still lists every field, named in lowerCamelCase."""
    found = RouteMatch(route(rollout_pb2.ResolveVersionResponse), {})

    rendered = render_response(found, rollout_pb2.ResolveVersionResponse(version="1.0.0"))

    assert rendered == {
        "version": "1.0.0",
        "stableVersion": "",
        "rolloutId": "",
        "bucket": 0,
        "inCanary": False,
        "percent": 0,
    }


def test_response_body_selects_one_field() -> None:
    """`response_body` makes that field the whole HTTP response."""
    bound = route(slo_pb2.GetSloResponse, response_body="slo")

    rendered = render_response(RouteMatch(bound, {}), slo_pb2.GetSloResponse())

    assert isinstance(rendered, dict)
    assert rendered["sloId"] == ""
