"""Three embedded nats-servers form one JetStream cluster that outlives any one member."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import PeerInfo, StreamConfig
from nats.js.errors import NoStreamResponseError

from portico_embedded.nats import NatsCluster

pytestmark = pytest.mark.integration


async def _publish(js: JetStreamContext, subject: str, msg_id: str, within: float = 20.0) -> None:
    """Publishes once the stream has a leader to take it (an election takes seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            await js.publish(subject, b"x", headers={"Nats-Msg-Id": msg_id}, timeout=1)
            return
        except (TimeoutError, NoStreamResponseError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _replica(urls: list[str], name: str, within: float = 20.0) -> PeerInfo | None:
    """The stream's view of member `name`, once it says the member is current (or the last seen)."""
    nc = await nats.connect(servers=urls)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + within
        while True:
            cluster = (await js.stream_info("R3")).cluster
            if cluster is None:
                return None
            found = next((p for p in (cluster.replicas or []) if p.name == name), None)
            if cluster.leader == name:
                return PeerInfo(name=name, current=True)
            if (found is not None and found.current) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def test_a_replicated_stream_keeps_every_message_while_a_member_is_down(
    tmp_path: Path,
) -> None:
    """R3 stream on three members; a follower SIGKILLed mid-way, then back: it catches up.

    (The chaos suite kills the stream's leader, which costs an election of
    several seconds; here the launcher's cluster and restart are what is tested.)
    """
    cluster = await asyncio.to_thread(NatsCluster(tmp_path / "cluster").start)
    try:
        ports = {m.port for m in cluster.members} | {m.cluster_port for m in cluster.members}
        assert len(ports) == 6
        nc = await nats.connect(servers=cluster.urls, reconnect_time_wait=0.1)
        try:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name="R3", subjects=["r3.>"], num_replicas=3))
            for i in range(5):
                await _publish(js, "r3.before", f"before-{i}")
            placed = (await js.stream_info("R3")).cluster
            assert placed is not None
            assert placed.leader
            followers = [p.name for p in placed.replicas or [] if p.name]
            assert len(followers) == 2
            killed = cluster.member(followers[0])
            killed.kill()
            for i in range(5):
                await _publish(js, "r3.after", f"after-{i}")
            await asyncio.to_thread(killed.start)
            # Sent again: the stream's duplicate window drops it, across the new leader too.
            await _publish(js, "r3.before", "before-0")
            assert (await js.stream_info("R3")).state.messages == 10
        finally:
            await nc.close()
        # The member that came back caught up: its own replica is current again.
        info = await _replica(cluster.urls, killed.server_name)
        assert info is not None
        assert info.current, info
    finally:
        cluster.stop()
