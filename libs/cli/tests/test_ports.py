"""Port choice: the preferred port when free, else a free one never promised twice."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from portico_cli.ports import pick_port, port_is_free


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_listening_port_is_not_free(busy_port: int) -> None:
    """A port with a listener is busy; out-of-range ports never count as free."""
    assert not port_is_free(busy_port)
    assert not port_is_free(0)
    assert not port_is_free(70000)


def test_the_preferred_port_wins_when_free() -> None:
    """pick_port returns the first free preference."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    assert pick_port(port) == port


def test_a_busy_preference_falls_back_to_a_free_port(busy_port: int) -> None:
    """Busy and None preferences are skipped."""
    chosen = pick_port(None, busy_port)
    assert chosen != busy_port
    assert port_is_free(chosen)


def test_ports_already_promised_are_not_handed_out_again() -> None:
    """`taken` covers ports assigned to processes that are not listening yet."""
    first = pick_port()
    assert pick_port(first, taken=[first]) != first
