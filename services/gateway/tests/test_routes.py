"""The route table: built from proto descriptors, matched against raw paths."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor

from portico.security.v1 import security_pb2
from portico_gateway.errors import RouteConflictError, TemplateSyntaxError
from portico_gateway.routes import RouteMatch, RouteTable, build_route_table, routes_for_method
from portico_gateway.templates import parse_template


@functools.cache
def synthetic_service() -> ServiceDescriptor:
    """A service registered once per process, with the annotations no real proto uses yet."""
    file = descriptor_pb2.FileDescriptorProto(
        name="portico_gateway_tests/synthetic.proto",
        package="portico_gateway_tests.v1",
        syntax="proto3",
        dependency=["google/api/annotations.proto"],
    )
    thing = file.message_type.add(name="Thing")
    field = descriptor_pb2.FieldDescriptorProto
    thing.field.add(name="name", number=1, type=field.TYPE_STRING)
    thing.field.add(name="parent", number=2, type=field.TYPE_STRING)
    thing.field.add(name="tags", number=3, type=field.TYPE_STRING, label=field.LABEL_REPEATED)
    service = file.service.add(name="ThingService")

    def method(name: str) -> http_pb2.HttpRule:
        added = service.method.add(
            name=name,
            input_type=".portico_gateway_tests.v1.Thing",
            output_type=".portico_gateway_tests.v1.Thing",
        )
        rule: http_pb2.HttpRule = added.options.Extensions[annotations_pb2.http]
        return rule

    get = method("GetThing")
    get.get = "/v1/{name=things/**}"
    get.additional_bindings.add(custom=http_pb2.CustomHttpPattern(kind="head", path="/v1/x"))
    get.additional_bindings.add(post="/v1/{parent}/things:search", body="tags")
    method("BadVariable").get = "/v1/{nope}"
    method("RepeatedVariable").get = "/v1/tags/{tags}"
    method("NotAnnotated")
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(file.SerializeToString())
    return pool.FindServiceByName("portico_gateway_tests.v1.ThingService")


def matched(table: RouteTable, method: str, path: str) -> RouteMatch:
    found = table.match(method, path)
    assert isinstance(found, RouteMatch), found
    return found


def test_verify_artifact_is_bound_from_its_annotation() -> None:
    """POST /v1/tenants/{tenant_id}/artifacts:verify maps to SecurityService.VerifyArtifact."""
    found = matched(build_route_table(), "POST", "/v1/tenants/acme/artifacts:verify")

    route = found.route
    assert route.grpc_method == "/portico.security.v1.SecurityService/VerifyArtifact"
    assert route.service == "security"
    assert route.body == "*"
    assert route.request_type is security_pb2.VerifyArtifactRequest
    assert route.response_type is security_pb2.VerifyArtifactResponse
    assert found.path_params == {"tenant_id": "acme"}


def test_every_annotated_rpc_of_the_six_services_has_a_route() -> None:
    """The table holds every binding the protos declare (other RPCs may be added)."""
    bindings = {
        (r.http_method, r.template, r.grpc_method.rsplit("/", 1)[1]) for r in build_route_table()
    }

    expected = {
        ("POST", "/v1/tenants", "CreateTenant"),
        ("GET", "/v1/tenants/{tenant_id}", "GetTenant"),
        ("PUT", "/v1/tenants/{tenant_id}/quota", "SetQuota"),
        ("GET", "/v1/tenants/{tenant_id}/quota", "GetQuota"),
        ("PUT", "/v1/tenants/{tenant_id}/usage", "RecordUsage"),
        ("POST", "/v1/auth/token", "IssueServiceToken"),
        ("GET", "/v1/auth/jwks", "GetJwks"),
        ("POST", "/v1/auth/verify", "VerifyToken"),
        ("POST", "/v1/tenants/{tenant_id}/publisher-keys", "RegisterPublisherKey"),
        ("POST", "/v1/tenants/{tenant_id}/artifacts:verify", "VerifyArtifact"),
        ("PUT", "/v1/tenants/{tenant_id}/host-profile", "SetHostProfile"),
        ("POST", "/v1/tenants/{tenant_id}/compatibility:check", "CheckCompatibility"),
        ("POST", "/api/plugins/compatibility-check", "CheckCompatibility"),
        (
            "POST",
            "/v1/tenants/{check.tenant_id}/compatibility:checkStream",
            "CheckCompatibilityStream",
        ),
        ("POST", "/api/plugins/compatibility-check:stream", "CheckCompatibilityStream"),
        (
            "PUT",
            "/v1/tenants/{tenant_id}/api-catalogs/{backstage_release}",
            "SetHostApiCatalog",
        ),
        (
            "PUT",
            "/v1/tenants/{tenant_id}/release-manifests/{backstage_release}",
            "SetReleaseManifest",
        ),
        ("PUT", "/v1/tenants/{tenant_id}/permission-policy", "SetPermissionPolicy"),
        ("POST", "/v1/tenants/{tenant_id}/rollouts", "RequestRollout"),
        ("GET", "/v1/tenants/{tenant_id}/rollouts/{rollout_id}", "GetRollout"),
        ("POST", "/v1/tenants/{tenant_id}/plugins:resolve", "ResolveVersion"),
        ("POST", "/v1/tenants/{tenant_id}/slos", "CreateSlo"),
        ("GET", "/v1/tenants/{tenant_id}/slos/{slo_id}", "GetSlo"),
        ("POST", "/v1/tenants/{tenant_id}/outcomes", "ReportOutcomes"),
        ("POST", "/v1/tenants/{tenant_id}/installs:uninstall", "Uninstall"),
        ("GET", "/v1/tenants/{tenant_id}/declared-resources", "GetDeclaredResources"),
    }
    assert expected <= bindings, sorted(expected - bindings)


def test_several_variables_bind_their_own_segments() -> None:
    """Each `{field}` takes exactly one segment."""
    found = matched(build_route_table(), "GET", "/v1/tenants/acme/rollouts/ro-7")

    assert found.path_params == {"tenant_id": "acme", "rollout_id": "ro-7"}


def test_an_encoded_slash_stays_inside_one_segment() -> None:
    """`%2F` in a segment is decoded into the value, not treated as a separator."""
    found = matched(build_route_table(), "GET", "/v1/tenants/a%2Fb%20c")

    assert found.path_params == {"tenant_id": "a/b c"}


def test_a_double_star_variable_binds_several_segments() -> None:
    """`{name=things/**}` binds the rest of the path, slashes included."""
    template = parse_template("/v1/{name=things/**}")

    assert template.match("/v1/things/a/b/c") == {"name": "things/a/b/c"}
    assert template.match("/v1/other/a") is None


def test_a_verb_is_part_of_the_match() -> None:
    """`:verb` must be present, and only at the end."""
    template = parse_template("/v1/{parent}/things:search")

    assert template.verb == "search"
    assert template.match("/v1/p1/things:search") == {"parent": "p1"}
    assert template.match("/v1/p1/things") is None


def test_additional_bindings_and_custom_patterns_become_routes() -> None:
    """One RPC yields a route per binding, each with its own verb and body."""
    method = synthetic_service().methods_by_name["GetThing"]

    routes = list(routes_for_method("things", method))

    assert [(r.http_method, r.template, r.body) for r in routes] == [
        ("GET", "/v1/{name=things/**}", ""),
        ("HEAD", "/v1/x", ""),
        ("POST", "/v1/{parent}/things:search", "tags"),
    ]


def test_an_rpc_without_annotation_has_no_route() -> None:
    """RPCs the gateway should not expose simply carry no HttpRule."""
    method = synthetic_service().methods_by_name["NotAnnotated"]

    assert list(routes_for_method("things", method)) == []


@pytest.mark.parametrize("name", ["BadVariable", "RepeatedVariable"])
def test_a_path_variable_must_name_a_singular_field(name: str) -> None:
    """A variable that names no field, or a repeated one, fails at start-up."""
    method = synthetic_service().methods_by_name[name]

    with pytest.raises(TemplateSyntaxError):
        list(routes_for_method("things", method))


def test_a_verb_route_wins_over_a_variable_that_could_swallow_it() -> None:
    """`/x/{id}:cancel` is matched before `/x/{id}`, whatever the declaration order."""
    base = matched(build_route_table(), "GET", "/v1/tenants/acme").route
    plain = dataclasses.replace(base, http_method="POST", path=parse_template("/x/{tenant_id}"))
    verb = dataclasses.replace(
        base, http_method="POST", path=parse_template("/x/{tenant_id}:cancel")
    )

    found = matched(RouteTable([plain, verb]), "POST", "/x/abc:cancel")

    assert found.route is verb
    assert found.path_params == {"tenant_id": "abc"}


def test_the_methods_of_a_known_path_are_reported_for_a_405() -> None:
    """A known path with the wrong method yields its methods; an unknown path yields none."""
    table = build_route_table()

    assert sorted(table.match("PUT", "/v1/tenants/acme")) == ["DELETE", "GET", "PATCH"]
    assert table.match("GET", "/v1/nowhere") == []


def test_two_rpcs_on_the_same_binding_are_refused() -> None:
    """Which RPC would serve a doubly bound route is arbitrary, so building fails."""
    route = next(iter(build_route_table()))

    with pytest.raises(RouteConflictError):
        RouteTable([route, route])


@pytest.mark.parametrize(
    "template",
    ["v1/no-slash", "/v1/{open", "/v1//empty", "/v1/{bad name}", "/v1/things:", "/v1/a*b"],
)
def test_malformed_templates_are_refused(template: str) -> None:
    """Templates outside the google.api.http grammar fail loudly at start-up."""
    with pytest.raises(TemplateSyntaxError):
        parse_template(template)


def test_the_monitoring_api_reaches_the_slo_service() -> None:
    """/api/monitoring/slo: create, the dashboard, and one SLO's read, update and delete."""
    table = build_route_table()
    routes = {
        ("POST", "/api/monitoring/slo"): ("CreateSlo", {}),
        ("GET", "/api/monitoring/slo"): ("GetSloDashboard", {}),
        ("GET", "/api/monitoring/slo/s-1"): ("GetSlo", {"slo_id": "s-1"}),
        ("PATCH", "/api/monitoring/slo/s-1"): ("UpdateSlo", {"slo_id": "s-1"}),
        ("DELETE", "/api/monitoring/slo/s-1"): ("DeleteSlo", {"slo_id": "s-1"}),
        ("POST", "/v1/tenants/acme/slos:ensure"): ("EnsureVersionSlo", {"tenant_id": "acme"}),
        ("GET", "/v1/tenants/acme/slos/s-1/budget"): (
            "GetErrorBudget",
            {"tenant_id": "acme", "slo_id": "s-1"},
        ),
    }
    for (method, path), (rpc, params) in routes.items():
        found = matched(table, method, path)
        assert found.route.grpc_method == f"/portico.slo.v1.SloService/{rpc}", path
        assert (found.route.service, found.path_params) == ("slo", params), path
