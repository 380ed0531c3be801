"""The embedded nats-server binds ports of its own choosing and keeps them across restarts."""

from __future__ import annotations

import socket
from pathlib import Path

import nats
import pytest

from portico_embedded.nats import NatsServer

pytestmark = pytest.mark.integration


async def test_server_reports_the_ports_it_chose(tmp_path: Path) -> None:
    """With no port given, the server picks one itself and the URL names it."""
    server = NatsServer(tmp_path / "nats").start()
    try:
        assert server.port > 0
        assert server.monitor_port > 0
        assert server.port != server.monitor_port
        nc = await nats.connect(server.url)
        try:
            info = await nc.jetstream().account_info()
            assert info.streams == 0
        finally:
            await nc.close()
    finally:
        server.stop()


def test_two_servers_never_share_a_port(tmp_path: Path) -> None:
    """Servers started side by side each get their own ports."""
    first = NatsServer(tmp_path / "a").start()
    second = NatsServer(tmp_path / "b").start()
    try:
        assert {first.port, first.monitor_port}.isdisjoint({second.port, second.monitor_port})
    finally:
        first.stop()
        second.stop()


def test_a_taken_port_is_never_handed_to_the_server(tmp_path: Path) -> None:
    """A port another process holds does not stop a server that chooses its own."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        server = NatsServer(tmp_path / "nats").start()
        try:
            assert server.port != taken
        finally:
            server.stop()


async def test_restart_keeps_url_and_streams(tmp_path: Path) -> None:
    """A restart comes back on the same URL with the streams it had."""
    server = NatsServer(tmp_path / "nats").start()
    try:
        url = server.url
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(name="KEPT", subjects=["kept.>"])
        await nc.close()
        server.restart()
        assert server.url == url
        nc = await nats.connect(url)
        try:
            assert (await nc.jetstream().stream_info("KEPT")).config.name == "KEPT"
        finally:
            await nc.close()
    finally:
        server.stop()
