"""The kernel's small shared helpers: tenant ids, timestamps, error categories, ready files,
NATS server lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from portico.events.v1 import events_pb2
from portico_common import errors
from portico_common.errors import EventError
from portico_common.events.bus import servers_of
from portico_common.runtime import write_ready_file
from portico_common.tenants import (
    ALL_TENANTS,
    InvalidTenantIdError,
    require_tenant_id,
)
from portico_common.timestamps import (
    from_timestamp,
    optional_timestamp,
    timestamp_field,
    to_timestamp,
)


@pytest.mark.parametrize("tenant", ["acme", "a1", "team-42", "x" * 63])
def test_valid_tenant_ids_pass_through(tenant: str) -> None:
    """A tenant id that follows the rule is returned unchanged."""
    assert require_tenant_id(tenant) == tenant


@pytest.mark.parametrize(
    "tenant", ["", "a", ALL_TENANTS, "-acme", "acme-", "Acme", "a_b", "x" * 64]
)
def test_invalid_tenant_ids_name_the_field_and_the_rule(tenant: str) -> None:
    """A bad tenant id is INVALID_ARGUMENT, naming the field and the rule."""
    with pytest.raises(
        InvalidTenantIdError, match=r"invalid owner_tenant .*2-63 characters"
    ) as err:
        require_tenant_id(tenant, "owner_tenant")
    assert err.value.code == "INVALID_ARGUMENT"
    assert isinstance(err.value, errors.InvalidArgumentError)


def test_timestamps_round_trip_in_utc() -> None:
    """An aware datetime in any zone comes back as the same instant in UTC."""
    when = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    back = from_timestamp(to_timestamp(when))
    assert back == when
    assert back.tzinfo is UTC


def test_a_naive_datetime_is_refused() -> None:
    """A datetime without a zone never reaches the wire: it would be ambiguous."""
    with pytest.raises(ValueError, match="naive"):
        to_timestamp(datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001 - the point of the test


def test_unset_timestamp_fields_read_as_none() -> None:
    """An unset Timestamp field reads as None; a set one as its instant."""
    message = events_pb2.RolloutRolledBack()
    assert timestamp_field(message, "violation_detected_at") is None
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    message.violation_detected_at.CopyFrom(to_timestamp(when))
    assert timestamp_field(message, "violation_detected_at") == when
    assert optional_timestamp(None) is None
    assert isinstance(optional_timestamp(when), Timestamp)


def test_every_category_names_a_distinct_grpc_status() -> None:
    """Each error category maps to its own gRPC status name."""
    codes = [category.code for category in errors.CATEGORIES]
    assert len(set(codes)) == len(codes)
    assert codes.count("INTERNAL") == 1  # only InternalError
    assert errors.IdempotencyConflictError.code == "ABORTED"


def test_ready_file_is_whole_json_with_the_ports(tmp_path: Path) -> None:
    """The ready file holds the bound ports and the pid, and no scratch file is left."""
    path = tmp_path / "svc.ready.json"
    write_ready_file(path, grpc_port=50123, metrics_port=9100)
    ready = json.loads(path.read_text())
    assert ready["grpc_port"] == 50123
    assert ready["metrics_port"] == 9100
    assert isinstance(ready["pid"], int)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_nats_url_may_list_a_clusters_members() -> None:
    """One URL or several comma-separated; blanks around them are dropped."""
    assert servers_of("nats://a:4222") == ["nats://a:4222"]
    assert servers_of("nats://a:1, nats://b:2,nats://c:3") == [
        "nats://a:1",
        "nats://b:2",
        "nats://c:3",
    ]


@pytest.mark.parametrize("url", ["", " ", " , "])
def test_a_nats_url_naming_no_server_is_refused(url: str) -> None:
    """An empty setting fails at once, saying so, instead of connecting nowhere."""
    with pytest.raises(EventError, match="no NATS server URL"):
        servers_of(url)
