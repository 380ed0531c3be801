"""endpoints.json: its format, atomic writes, clear errors, and no secrets in URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portico_cli import endpoints
from portico_cli.endpoints import Endpoints, ServiceEndpoint, redact_url
from portico_cli.errors import CliError, NotRunningError


def sample() -> Endpoints:
    return Endpoints(
        gateway="http://127.0.0.1:8080",
        nats="nats://127.0.0.1:4222",
        database="postgresql://postgres@127.0.0.1:5432/portico",
        services={
            "auth": ServiceEndpoint("127.0.0.1:50062", "http://127.0.0.1:40001/metrics", 101),
            "tenancy": ServiceEndpoint("127.0.0.1:50061", "http://127.0.0.1:40002/metrics", 102),
        },
        admin_client_id="portico-admin",
        started_at="2026-01-01T00:00:00+00:00",
        pid=100,
        gateway_pid=103,
    )


def test_written_file_has_the_documented_shape(tmp_path: Path) -> None:
    """The JSON keys and nesting that status, demo and users rely on."""
    path = tmp_path / "endpoints.json"
    endpoints.write(path, sample())
    data = json.loads(path.read_text())
    assert data == {
        "gateway": "http://127.0.0.1:8080",
        "nats": "nats://127.0.0.1:4222",
        "database": "postgresql://postgres@127.0.0.1:5432/portico",
        "services": {
            "auth": {
                "grpc": "127.0.0.1:50062",
                "metrics": "http://127.0.0.1:40001/metrics",
                "pid": 101,
            },
            "tenancy": {
                "grpc": "127.0.0.1:50061",
                "metrics": "http://127.0.0.1:40002/metrics",
                "pid": 102,
            },
        },
        "admin_client_id": "portico-admin",
        "started_at": "2026-01-01T00:00:00+00:00",
        "pid": 100,
        "gateway_pid": 103,
        "tls": False,
    }
    assert [p.name for p in tmp_path.iterdir()] == ["endpoints.json"]


def test_read_returns_what_write_wrote(tmp_path: Path) -> None:
    """A round trip is lossless."""
    path = tmp_path / "endpoints.json"
    endpoints.write(path, sample())
    assert endpoints.read(path) == sample()


def test_reading_a_missing_file_says_the_suite_is_not_running(tmp_path: Path) -> None:
    """The error names the file and the command that creates it."""
    with pytest.raises(NotRunningError, match=r"not running.*portico up"):
        endpoints.read(tmp_path / "endpoints.json")


@pytest.mark.parametrize("content", ["{", "[]", '{"gateway": "x"}'])
def test_a_malformed_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    """Bad JSON or missing keys give a CliError naming the file."""
    path = tmp_path / "endpoints.json"
    path.write_text(content)
    with pytest.raises(CliError, match=r"endpoints\.json"):
        endpoints.read(path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://postgres@127.0.0.1:5432/portico",
            "postgresql://postgres@127.0.0.1:5432/portico",
        ),
        ("postgresql://app:s3cret@db:5432/portico", "postgresql://app@db:5432/portico"),
        (
            "postgresql://db/portico?sslmode=require&password=x",
            "postgresql://db/portico?sslmode=require&password=***",
        ),
        ("nats://user:pw@nats:4222", "nats://user@nats:4222"),
        ("nats://s3cret-token@nats:4222", "nats://***@nats:4222"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ],
)
def test_redact_url_drops_credentials(url: str, expected: str) -> None:
    """Passwords, NATS tokens and secret query values never reach endpoints.json."""
    assert redact_url(url) == expected
