"""HTTP+JSON ⇄ protobuf, following the binding rules of google/api/http.proto.

The body fills the request (all of it for `body: "*"`, one field otherwise), path
variables bind their fields, and, unless the body takes everything, query parameters
bind the remaining fields. Every refusal names the offending part of the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from portico_gateway import fields
from portico_gateway.errors import RequestError, bad_request
from portico_gateway.nesting import DEFAULT_MAX_JSON_DEPTH, exceeds
from portico_gateway.routes import RouteMatch

JSON_MEDIA_TYPE = "application/json"


def build_request(
    matched: RouteMatch,
    body: bytes,
    content_type: str | None,
    query: Iterable[tuple[str, str]],
    *,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> Message:
    """The request message for one HTTP request, or a `RequestError` saying what is wrong."""
    route = matched.route
    message = route.request_type()
    if route.body:
        payload = parse_json_body(body, content_type, max_depth=max_depth)
        if payload is not _EMPTY:
            wrapped = payload if route.body == "*" else {route.body: payload}
            if not isinstance(wrapped, dict):
                raise bad_request("the request body must be a JSON object", kind="invalid-body")
            _parse_into(wrapped, message, "request body")
    elif body.strip():
        raise bad_request(f"{route.http_method} {route.template} takes no request body")
    _bind_query(matched, list(query), message)
    _bind_path(matched, message)
    return message


class _Empty:
    """Marks an absent body, which is not the same as a JSON `null`."""


_EMPTY = _Empty()


def parse_json_body(
    body: bytes, content_type: str | None, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH
) -> Any:
    """Decode a JSON request body; an empty body means "no fields" rather than an error.

    A body nesting arrays and objects deeper than `max_depth` is refused before the
    parser sees it, since parsing recurses once per level.
    """
    if not body.strip():
        return _EMPTY
    media_type, _, params = (content_type or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type != JSON_MEDIA_TYPE and not media_type.endswith("+json"):
        raise RequestError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"the request body must be {JSON_MEDIA_TYPE}, not {media_type or 'unspecified'!r}",
            grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
            headers={"Accept": JSON_MEDIA_TYPE},
        )
    charset = _charset(params)
    if charset not in {None, "utf-8", "utf8"}:
        # RFC 8259 §8.1: JSON exchanged between systems is UTF-8, nothing else.
        raise bad_request(f"JSON must be UTF-8, not {charset!r}", kind="malformed-json")
    if exceeds(body, max_depth):
        raise RequestError(
            400,
            "json-too-deep",
            "Invalid request",
            f"the JSON body nests arrays and objects more than {max_depth} levels deep",
            grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
            extensions={"max_json_depth": max_depth},
        )
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise bad_request(f"the body is not UTF-8: {exc.reason}", kind="malformed-json") from exc
    except json.JSONDecodeError as exc:
        detail = f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise bad_request(detail, kind="malformed-json") from exc
    except _DuplicateKeyError as exc:
        raise bad_request(str(exc), kind="malformed-json") from exc


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


class _DuplicateKeyError(ValueError):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads would keep the last duplicate silently; which one the client meant
    # is a guess, so refuse it.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"duplicate key {key!r} in the JSON body")
        result[key] = value
    return result


def _parse_into(payload: dict[str, Any], message: Message, where: str) -> None:
    try:
        json_format.ParseDict(payload, message, ignore_unknown_fields=False)
    except (json_format.Error, ValueError, TypeError) as exc:
        raise bad_request(f"{where}: {exc}", kind="invalid-field") from exc


def _bind_query(matched: RouteMatch, query: list[tuple[str, str]], message: Message) -> None:
    route = matched.route
    if not query:
        return
    if route.body == "*":
        names = ", ".join(sorted({key for key, _ in query}))
        raise bad_request(
            f"{route.http_method} {route.template} takes every field in the body; "
            f"query parameters ({names}) are not accepted",
            kind="invalid-query",
        )
    taken = {name.split(".")[0] for name in route.path.variables}
    # Grouped by field so repeated keys accumulate and each error names the key as sent.
    groups: dict[str, tuple[str, list[FieldDescriptor], list[Any]]] = {}
    for key, text in query:
        chain = _resolve(message, key, "query parameter")
        if chain[0].name in taken or chain[0].name == route.body:
            raise bad_request(
                f"query parameter {key!r} sets a field bound by the path or body",
                kind="invalid-query",
            )
        if not fields.takes_text(chain[-1]):
            raise bad_request(
                f"query parameter {key!r} names a message field; send it in a JSON body",
                kind="invalid-query",
            )
        dotted = ".".join(f.name for f in chain)
        _, _, values = groups.setdefault(dotted, (key, chain, []))
        if values and not chain[-1].is_repeated:
            raise bad_request(
                f"query parameter {key!r} is given more than once", kind="invalid-query"
            )
        values.append(_text_value(chain[-1], text, f"query parameter {key!r}"))
    for key, chain, values in groups.values():
        nested: dict[str, Any] = {}
        fields.nest(chain, values if chain[-1].is_repeated else values[0], nested)
        scratch = route.request_type()
        _parse_into(nested, scratch, f"query parameter {key!r}")
        message.MergeFrom(scratch)


def _bind_path(matched: RouteMatch, message: Message) -> None:
    route = matched.route
    bound = route.request_type()
    chains = {}
    for name, text in matched.path_params.items():
        chain = _resolve(message, name, "path variable")
        values: dict[str, Any] = {}
        fields.nest(chain, _text_value(chain[-1], text, f"path variable {name!r}"), values)
        _parse_into(values, bound, f"path variable {name!r}")
        chains[name] = chain
    for name, chain in chains.items():
        is_set, current = fields.read(message, chain)
        _, from_path = fields.read(bound, chain)
        if is_set and current != from_path:
            raise bad_request(
                f"{name!r} is {from_path!r} in the path but {current!r} in the body",
                kind="conflicting-field",
            )
    # MergeFrom overwrites singular fields only where `bound` sets them, so body
    # fields the path does not mention survive.
    message.MergeFrom(bound)


def _resolve(message: Message, name: str, what: str) -> list[FieldDescriptor]:
    try:
        return fields.resolve(message, name)
    except fields.FieldPathError as exc:
        raise bad_request(f"{what} {name!r}: {exc}", kind="invalid-field") from exc


def _text_value(field: FieldDescriptor, text: str, where: str) -> Any:
    try:
        return fields.text_to_json(field, text)
    except fields.FieldPathError as exc:
        raise bad_request(f"{where}: {exc}", kind="invalid-field") from exc


def render_response(matched: RouteMatch, message: Message) -> Any:
    """The JSON body for a response: lowerCamelCase names, zero values included."""
    response_body = matched.route.response_body
    if not response_body:
        return _to_json(message)
    field = fields.descriptor_of(message).fields_by_name[response_body]
    value = getattr(message, response_body)
    if field.message_type is not None and not field.is_repeated:
        # A singular message renders on its own, so an unset one is `{}`, not absent.
        return _to_json(value)
    return _to_json(message).get(field.json_name)


def _to_json(message: Message) -> Any:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
