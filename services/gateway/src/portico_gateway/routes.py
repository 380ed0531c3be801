"""The route table, built from the `google.api.http` annotations of the proto services.

Nothing here is written per route: every RPC that carries an HttpRule becomes a route,
so a new annotated RPC is reachable through the gateway without touching this package.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

# googleapis-common-protos ships no type information.
from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from portico_gateway import fields
from portico_gateway.errors import RouteConflictError, TemplateSyntaxError
from portico_gateway.templates import PathTemplate, parse_template

#: The services whose annotated RPCs the gateway exposes.
DEFAULT_SERVICES = ("tenancy", "auth", "security", "compat", "rollout", "slo")

# Field names whose values are credentials (`access_token`, `client_secret`, a
# `password`, a `private_key`): a response to an RPC whose request or response has one
# must not be kept by any cache. `token_id`, `token_type` and `page_token` name no secret.
_SECRET_FIELD = re.compile(r"(?:^|_)(?:secret|password|private_key|credentials?)(?:_|$)|token$")
_NOT_SECRET_FIELDS = frozenset({"page_token", "next_page_token"})


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP binding of one RPC."""

    http_method: str
    path: PathTemplate
    #: "*" (the whole request), a top-level field name, or "" (query parameters).
    body: str
    response_body: str
    #: The short service name ("rollout") that selects the upstream channel.
    service: str
    grpc_method: str
    request_type: type[Message]
    response_type: type[Message]
    #: The RPC answers with a stream of messages (served as NDJSON or SSE).
    server_streaming: bool = False
    #: Its request or response carries a credential, so no response may be cached.
    carries_secret: bool = False

    @property
    def template(self) -> str:
        return self.path.template

    def describe(self) -> dict[str, str]:
        """A JSON-ready summary, served by `GET /v1/routes`."""
        return {
            "method": self.http_method,
            "path": self.template,
            "body": self.body,
            "service": self.service,
            "rpc": self.grpc_method,
            "request": self.request_type.DESCRIPTOR.full_name,
            "response": self.response_type.DESCRIPTOR.full_name,
            "streaming": "server" if self.server_streaming else "",
        }


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    path_params: dict[str, str]


@dataclass(slots=True)
class RouteTable:
    routes: list[Route] = field(default_factory=list)

    def __post_init__(self) -> None:
        seen: dict[tuple[str, str], str] = {}
        for route in self.routes:
            key = (route.http_method, route.path.regex.pattern)
            if key in seen:
                raise RouteConflictError(route.http_method, route.template, seen[key])
            seen[key] = route.grpc_method
        # Most specific first, so `/x/{id}:cancel` wins over `/x/{id}` (whose single-segment
        # variable would otherwise swallow the verb) and literals win over `**`.
        self.routes.sort(
            key=lambda r: (not r.path.verb, r.path.has_multi, -r.path.literal_segments)
        )

    def match(self, method: str, path: str) -> RouteMatch | list[str]:
        """The route for `method` and the raw (still percent-encoded) `path`.

        When no route has this method, return the methods that the path does accept
        (empty when the path is unknown altogether) so the caller can answer 405 or 404.
        """
        allowed: list[str] = []
        for route in self.routes:
            params = route.path.match(path)
            if params is None:
                continue
            if route.http_method == method:
                return RouteMatch(route, params)
            if route.http_method not in allowed:
                allowed.append(route.http_method)
        return allowed

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)


# APIs every service serves about itself (its dead letters): their templates'
# {service} is filled with each service's name, one route per service.
EVERY_SERVICE_PACKAGE = "portico.ops.v1"


def build_route_table(services: Sequence[str] = DEFAULT_SERVICES) -> RouteTable:
    """Walk the generated `portico.<service>.v1.*_pb2` modules and collect their routes."""
    routes: list[Route] = []
    for name in services:
        for service in _service_descriptors(f"portico.{name}.v1"):
            for method in service.methods:
                routes.extend(routes_for_method(name, method))
        for service in _service_descriptors(EVERY_SERVICE_PACKAGE):
            for method in service.methods:
                routes.extend(routes_for_method(name, method, {"service": name}))
    return RouteTable(routes)


def _service_descriptors(package: str) -> Iterator[ServiceDescriptor]:
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.endswith("_pb2"):
            pb2 = importlib.import_module(f"{package}.{info.name}")
            yield from pb2.DESCRIPTOR.services_by_name.values()


def routes_for_method(
    service: str, method: MethodDescriptor, fixed: Mapping[str, str] | None = None
) -> Iterable[Route]:
    """The routes of one RPC: its HttpRule plus any `additional_bindings`.

    `fixed` fills path variables with literals (`{service}` -> `rollout`).
    """
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule = options.Extensions[annotations_pb2.http]
    if method.client_streaming:
        # One HTTP request body is one message; a client stream has no HTTP form here.
        raise TemplateSyntaxError(
            _verb_and_template(rule)[1], f"{method.name} is client-streaming; it cannot be bound"
        )
    request_type = GetMessageClass(method.input_type)
    response_type = GetMessageClass(method.output_type)
    carries_secret = has_secret_field(method.input_type) or has_secret_field(method.output_type)
    grpc_method = f"/{method.containing_service.full_name}/{method.name}"
    routes = []
    for binding in (rule, *rule.additional_bindings):
        verb, template = _verb_and_template(binding)
        for variable, value in (fixed or {}).items():
            template = template.replace(f"{{{variable}}}", value)
        if (
            binding.body not in {"", "*"}
            and binding.body not in fields.descriptor_of(request_type).fields_by_name
        ):
            raise TemplateSyntaxError(template, f"body field {binding.body!r} does not exist")
        path = parse_template(template)
        for variable in path.variables:
            _check_path_variable(request_type, template, variable)
        routes.append(
            Route(
                http_method=verb,
                path=path,
                body=binding.body,
                response_body=binding.response_body,
                service=service,
                grpc_method=grpc_method,
                request_type=request_type,
                response_type=response_type,
                server_streaming=method.server_streaming,
                carries_secret=carries_secret,
            )
        )
    return routes


def has_secret_field(message: Descriptor, seen: frozenset[str] = frozenset()) -> bool:
    """Whether `message`, or any message nested in it, has a field holding a credential."""
    if message.full_name in seen:
        return False
    for field_ in message.fields:
        if field_.name not in _NOT_SECRET_FIELDS and _SECRET_FIELD.search(field_.name):
            return True
        nested = field_.message_type
        if nested is not None and has_secret_field(nested, seen | {message.full_name}):
            return True
    return False


def _check_path_variable(request_type: type[Message], template: str, variable: str) -> None:
    # Refuse at start-up what would otherwise fail on every request to this route.
    try:
        chain = fields.resolve(request_type, variable)
    except fields.FieldPathError as exc:
        raise TemplateSyntaxError(template, str(exc)) from exc
    leaf = chain[-1]
    if leaf.is_repeated or not fields.takes_text(leaf):
        raise TemplateSyntaxError(template, f"{variable!r} must be a singular primitive field")


def _verb_and_template(rule: http_pb2.HttpRule) -> tuple[str, str]:
    pattern = rule.WhichOneof("pattern")
    if pattern is None:
        raise TemplateSyntaxError("", "HttpRule without a pattern")
    if pattern == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return pattern.upper(), str(getattr(rule, pattern))
