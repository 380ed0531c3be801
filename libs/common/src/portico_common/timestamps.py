"""Aware datetimes <-> google.protobuf.Timestamp, at the protobuf edge of every service."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(when: datetime) -> Timestamp:
    """An aware datetime as a Timestamp (UTC); a naive one is refused, being ambiguous."""
    if when.tzinfo is None:
        raise ValueError("a naive datetime has no place on the wire: give it a timezone")
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def optional_timestamp(when: datetime | None) -> Timestamp | None:
    """`to_timestamp`, with None for "not set" (a message field left empty)."""
    return None if when is None else to_timestamp(when)


def from_timestamp(stamp: Timestamp) -> datetime:
    """A Timestamp as an aware UTC datetime."""
    return stamp.ToDatetime(tzinfo=UTC)


def timestamp_field(message: Message, name: str) -> datetime | None:
    """The Timestamp field `name` of `message` as a datetime; None when it is not set."""
    if not message.HasField(name):
        return None
    stamp = getattr(message, name)
    if not isinstance(stamp, Timestamp):
        raise TypeError(f"{type(message).__name__}.{name} is not a Timestamp")
    return from_timestamp(stamp)
