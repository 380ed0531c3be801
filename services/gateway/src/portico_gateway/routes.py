"""The route table, built from the `google.api.http` annotations of the proto services.

Nothing here is written per route: every RPC that carries an HttpRule becomes a route,
so a new annotated RPC is reachable through the gateway without touching this package.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

# googleapis-common-protos ships no type information.
from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from portico_gateway import fields
from portico_gateway.errors import RouteConflictError, TemplateSyntaxError

#: The services whose annotated RPCs the gateway exposes.
DEFAULT_SERVICES = ("tenancy", "auth", "security", "compat", "rollout", "slo")

_SINGLE = "[^/]+"
# `**` may match zero segments (google/api/http.proto), hence `*` not `+`.
_MULTI = ".*"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A compiled `google.api.http` path template such as `/v1/{name=tenants/*}:verify`."""

    template: str
    regex: re.Pattern[str]
    #: Field paths bound by the variables, in the order their groups appear.
    variables: tuple[str, ...]
    verb: str
    literal_segments: int
    has_multi: bool

    def match(self, path: str) -> dict[str, str] | None:
        """Return the bound field values (percent-decoded) when `path` matches."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return {
            variable: unquote(found.group(f"v{index}"), errors="strict")
            for index, variable in enumerate(self.variables)
        }


def parse_template(template: str) -> PathTemplate:
    """Compile a path template per the grammar in google/api/http.proto."""
    if not template.startswith("/"):
        raise TemplateSyntaxError(template, "must start with '/'")
    body, verb = _split_verb(template)
    variables: list[str] = []
    parts: list[str] = []
    literals = 0
    has_multi = False
    for segment in _split_top_level(body[1:], template):
        if segment.startswith("{"):
            if not segment.endswith("}"):
                raise TemplateSyntaxError(template, f"unterminated variable {segment!r}")
            name, _, pattern = segment[1:-1].partition("=")
            if not _IDENT.fullmatch(name):
                raise TemplateSyntaxError(template, f"bad field path {name!r}")
            sub = pattern.split("/") if pattern else ["*"]
            has_multi = has_multi or "**" in sub
            regex = "/".join(_segment_regex(part, template) for part in sub)
            parts.append(f"(?P<v{len(variables)}>{regex})")
            variables.append(name)
        else:
            literals += segment not in {"*", "**"}
            has_multi = has_multi or segment == "**"
            parts.append(_segment_regex(segment, template))
    suffix = ":" + re.escape(verb) if verb else ""
    return PathTemplate(
        template=template,
        regex=re.compile("/" + "/".join(parts) + suffix),
        variables=tuple(variables),
        verb=verb,
        literal_segments=literals,
        has_multi=has_multi,
    )


def _split_verb(template: str) -> tuple[str, str]:
    # The verb is a ':' outside any variable, after the last '/'; a ':' inside
    # `{...}` or an earlier segment is part of the path itself.
    depth = 0
    colon = -1
    for index, char in enumerate(template):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0 and char == "/":
            colon = -1
        elif depth == 0 and char == ":":
            colon = index
    if depth != 0:
        raise TemplateSyntaxError(template, "unbalanced braces")
    if colon == -1:
        return template, ""
    verb = template[colon + 1 :]
    if not verb or "/" in verb:
        raise TemplateSyntaxError(template, "empty verb")
    return template[:colon], verb


def _split_top_level(path: str, template: str) -> Iterator[str]:
    depth = 0
    start = 0
    for index, char in enumerate(path):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "/" and depth == 0:
            yield _non_empty(path[start:index], template)
            start = index + 1
    yield _non_empty(path[start:], template)


def _non_empty(segment: str, template: str) -> str:
    if not segment:
        raise TemplateSyntaxError(template, "empty path segment")
    return segment


def _segment_regex(segment: str, template: str) -> str:
    if segment == "*":
        return _SINGLE
    if segment == "**":
        return _MULTI
    if any(char in segment for char in "{}=*"):
        raise TemplateSyntaxError(template, f"bad segment {segment!r}")
    return re.escape(segment)


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

    def by_grpc_method(self, grpc_method: str) -> Route:
        for route in self.routes:
            if route.grpc_method == grpc_method:
                return route
        raise KeyError(grpc_method)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)


def build_route_table(services: Sequence[str] = DEFAULT_SERVICES) -> RouteTable:
    """Walk the generated `portico.<service>.v1.*_pb2` modules and collect their routes."""
    routes: list[Route] = []
    for name in services:
        for service in _service_descriptors(f"portico.{name}.v1"):
            for method in service.methods:
                routes.extend(routes_for_method(name, method))
    return RouteTable(routes)


def _service_descriptors(package: str) -> Iterator[ServiceDescriptor]:
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.endswith("_pb2"):
            pb2 = importlib.import_module(f"{package}.{info.name}")
            yield from pb2.DESCRIPTOR.services_by_name.values()


def routes_for_method(service: str, method: MethodDescriptor) -> Iterable[Route]:
    """The routes of one RPC: its HttpRule plus any `additional_bindings`."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule = options.Extensions[annotations_pb2.http]
    request_type = GetMessageClass(method.input_type)
    response_type = GetMessageClass(method.output_type)
    grpc_method = f"/{method.containing_service.full_name}/{method.name}"
    routes = []
    for binding in (rule, *rule.additional_bindings):
        verb, template = _verb_and_template(binding)
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
            )
        )
    return routes


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
