"""Field paths (`rollout.tenant_id`) resolved against message descriptors.

Path variables and query parameters name request fields by path; both the proto name
(`tenant_id`) and the JSON name (`tenantId`) are accepted, like the JSON body.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

# Well-known types whose JSON form is a string, so a single path or query value can
# carry them (google/api/http.proto allows these alongside primitives).
STRING_WELL_KNOWN_TYPES = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
    }
)


class FieldPathError(ValueError):
    """A field path that does not name a usable field; the message says which part."""


def descriptor_of(message_type: type[Message] | Message) -> Descriptor:
    descriptor = message_type.DESCRIPTOR
    # The upb descriptor passes this check at run time (protobuf's metaclass makes it
    # so); the check is what tells the type checker which of the two it is.
    if not isinstance(descriptor, Descriptor):
        raise TypeError(f"not a message descriptor: {descriptor!r}")
    return descriptor


def resolve(message_type: type[Message] | Message, path: str) -> list[FieldDescriptor]:
    """The chain of fields named by a dotted `path`, walking through singular messages."""
    chain: list[FieldDescriptor] = []
    current: Descriptor | None = descriptor_of(message_type)
    for part in path.split("."):
        if current is None:
            raise FieldPathError(f"{'.'.join(f.name for f in chain)!r} has no sub-fields")
        found = current.fields_by_name.get(part) or _by_json_name(current, part)
        if found is None:
            raise FieldPathError(f"{current.full_name} has no field {part!r}")
        if chain and chain[-1].is_repeated:
            raise FieldPathError(f"{chain[-1].name!r} is repeated and cannot be traversed")
        chain.append(found)
        current = found.message_type
        if current is not None and current.full_name in STRING_WELL_KNOWN_TYPES:
            # Its JSON form is one string; reaching inside would not be valid JSON input.
            current = None
    return chain


def _by_json_name(descriptor: Descriptor, name: str) -> FieldDescriptor | None:
    for candidate in descriptor.fields:
        if candidate.json_name == name:
            return candidate
    return None


def takes_text(field: FieldDescriptor) -> bool:
    """Whether one textual value (a path segment, a query value) can set this field."""
    message_type = field.message_type
    if message_type is None:
        return True
    return message_type.full_name in STRING_WELL_KNOWN_TYPES


def text_to_json(field: FieldDescriptor, text: str) -> Any:
    """The JSON value that `json_format.ParseDict` expects for `text` in `field`.

    ParseDict already accepts strings for numbers, enums, bytes and well-known types;
    booleans are the exception, since JSON insists on `true` without quotes.
    """
    if field.type == FieldDescriptor.TYPE_BOOL:
        lowered = text.lower()
        if lowered in {"true", "1"}:
            return True
        if lowered in {"false", "0"}:
            return False
        raise FieldPathError(f"expected true or false for {field.name!r}, got {text!r}")
    return text


def nest(chain: list[FieldDescriptor], value: Any, into: dict[str, Any]) -> None:
    """Place `value` at `chain` in a ParseDict-shaped dict, keyed by proto names."""
    for field in chain[:-1]:
        into = into.setdefault(field.name, {})
    into[chain[-1].name] = value


def read(message: Message, chain: list[FieldDescriptor]) -> tuple[bool, Any]:
    """(is it set, its value) at `chain`, without creating intermediate messages."""
    current: Any = message
    for field in chain[:-1]:
        if not current.HasField(field.name):
            return False, None
        current = getattr(current, field.name)
    leaf = chain[-1]
    value = getattr(current, leaf.name)
    if leaf.has_presence:
        return current.HasField(leaf.name), value
    return value != leaf.default_value, value
