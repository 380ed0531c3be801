"""The event catalog: type names, payload messages and subjects agree."""

from __future__ import annotations

import re

import pytest
from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.events.catalog import EVENT_TYPES, subject_for, type_of

# A NATS subject token: no wildcards, whitespace or empty tokens.
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@pytest.mark.parametrize(("name", "message"), sorted(EVENT_TYPES.items()))
def test_every_type_maps_to_a_message_and_back(name: str, message: type[Message]) -> None:
    """type_of(an instance of the type's message) is the type's name."""
    assert type_of(message()) == name


def test_no_message_serves_two_types() -> None:
    """Each payload message belongs to exactly one event type."""
    names = [cls.DESCRIPTOR.full_name for cls in EVENT_TYPES.values()]
    assert len(names) == len(set(names))


def test_every_event_message_in_the_contract_is_catalogued() -> None:
    """Each top-level message of events.proto that is not a building block is registered."""
    file = ev.DESCRIPTOR
    used_as_field = {
        field.message_type.full_name
        for message in file.message_types_by_name.values()
        for field in message.fields
        if field.message_type is not None
    }
    events = {
        m.full_name for m in file.message_types_by_name.values() if m.full_name not in used_as_field
    }
    assert events == {cls.DESCRIPTOR.full_name for cls in EVENT_TYPES.values()}


@pytest.mark.parametrize("message", [EVENT_TYPES[name] for name in sorted(EVENT_TYPES)])
def test_every_event_names_its_tenant(message: type[Message]) -> None:
    """Every payload has a tenant_id field, which the unit of work reads for the header."""
    assert "tenant_id" in message.DESCRIPTOR.fields_by_name


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_subjects_are_valid_nats_subjects(name: str) -> None:
    """Each type's subject is portico.<type>, with no wildcard or empty token."""
    subject = subject_for(name)
    assert subject == f"portico.{name}"
    assert _SUBJECT.match(subject)


def test_unregistered_message_has_no_type() -> None:
    """Asking for the type of a building-block message fails with its name."""
    with pytest.raises(KeyError, match=r"portico\.events\.v1\.CompatFinding is not a registered"):
        type_of(ev.CompatFinding())
