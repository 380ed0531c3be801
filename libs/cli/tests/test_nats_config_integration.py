"""A real nats-server run from `portico nats-config`'s files, as compose and the NATS chart do."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import pytest
import yaml
from nats.aio.client import Client as NatsClient
from pydantic import SecretStr

from portico.events.v1 import events_pb2 as ev
from portico_cli import nats_config
from portico_common.events import provision
from portico_common.events.bus import check_streams, connect, publish
from portico_common.events.catalog import STREAM
from portico_common.events.envelope import Envelope
from portico_common.events.nats_permissions import OBSERVER, inbox_prefix
from portico_common.events.topology import CONSUMERS, SERVICES
from portico_embedded.nats import nats_server_binary
from portico_embedded.processes import http_ok, terminate, wait_for

pytestmark = pytest.mark.integration


@dataclass
class ConfiguredNats:
    """A nats-server started with `--config nats-auth.conf`, and the directory it came from."""

    url: str
    files: Path


def _env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _start(conf: Path, store: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nats-server as compose runs it: JetStream flags plus the generated configuration."""
    ports_dir = store / "ports"
    ports_dir.mkdir(parents=True)
    log = (store / "nats.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [
            nats_server_binary(),
            "--config",
            str(conf),
            "--jetstream",
            "--store_dir",
            str(store),
            "--addr",
            "127.0.0.1",
            "--port",
            "-1",
            "--http_port",
            "-1",
            "--ports_file_dir",
            str(ports_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    found: dict[str, list[str]] = {}

    def ports_written() -> bool:
        for path in ports_dir.glob("*.ports"):
            try:
                found.update(json.loads(path.read_text()))
            except ValueError:
                return False  # written half-way
            return True
        return False

    wait_for(ports_written, "nats-server", 20, proc)
    monitor = found["monitoring"][0]
    wait_for(lambda: http_ok(f"{monitor}/healthz?js-enabled-only=true"), "nats-server", 20, proc)
    return proc, found["nats"][0]


@pytest.fixture
def configured_nats(tmp_path: Path) -> Iterator[ConfiguredNats]:
    """The files from `portico nats-config`, and a server that loaded nats-auth.conf."""
    files = tmp_path / "nats-config"
    nats_config.write(files)
    proc, url = _start(files / nats_config.AUTH_CONF, tmp_path / "store")
    try:
        yield ConfiguredNats(url, files)
    finally:
        terminate(proc)


@pytest.fixture
async def provisioned(configured_nats: ConfiguredNats) -> ConfiguredNats:
    """The provisioner, signed in from provisioner.env, created the streams and durables."""
    env = _env(configured_nats.files / "provisioner.env")
    settings = provision.ProvisionerSettings(
        nats_url=configured_nats.url, nats_nkey_seed=SecretStr(env["PORTICO_NATS_NKEY_SEED"])
    )
    durables = await provision.run(settings)
    assert sorted(durables) == sorted(d for ds in CONSUMERS.values() for d in ds)
    return configured_nats


async def _as(server: ConfiguredNats, name: str) -> NatsClient:
    """Signed in as a service, with the seed its compose env file carries."""
    env = _env(server.files / f"{name}.env")
    assert env["PORTICO_NATS_PROVISIONED"] == "true"
    return await connect(
        server.url,
        f"test-{name}",
        nkey_seed=env["PORTICO_NATS_NKEY_SEED"],
        inbox_prefix=inbox_prefix(name),
    )


async def _refused(url: str, **options: str) -> None:
    """Connects once; a refused client is closed too, so its socket does not leak."""
    nc = NatsClient()
    try:
        await nc.connect(url, connect_timeout=2, allow_reconnect=False, **options)
    finally:
        await nc.close()


def _violation() -> Envelope:
    payload = ev.SloViolated(tenant_id="acme", slo_id="slo-1", plugin="@acme/x", version="1.0.0")
    return Envelope.of(payload, source="portico/slo", tenant_id="acme")


def _forged_rollout_event() -> Envelope:
    payload = ev.RolloutCompleted(tenant_id="acme", rollout_id="r-1", plugin="@acme/x", version="1")
    return Envelope.of(payload, source="portico/rollout", tenant_id="acme")


def test_the_generated_files_are_valid_nats_configuration(tmp_path: Path) -> None:
    """nats-server -t accepts nats-auth.conf, and the chart's nats.conf that includes it."""
    nats_config.write(tmp_path)
    values = yaml.safe_load((tmp_path / nats_config.HELM_VALUES).read_text())
    included = values["config"]["merge"]["$include"]
    chart_dir = tmp_path / "etc-nats-config"
    chart_dir.mkdir()
    (chart_dir / included).write_text(values["configMap"]["merge"]["data"][included])
    # What the chart renders for config.merge: an include inside its JSON configuration.
    (chart_dir / "nats.conf").write_text(
        f'{{\n  include {included};\n  "port": 4222,\n  "jetstream": {{}}\n}}\n'
    )

    for conf in (tmp_path / nats_config.AUTH_CONF, chart_dir / "nats.conf"):
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [nats_server_binary(), "--config", str(conf), "-t"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.conf"
    broken.write_text('{"authorization": {"users": [{"nkey": "UNOTAKEY"}]}}')
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [nats_server_binary(), "--config", str(broken), "-t"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode != 0, "the validity check must be able to fail"


async def test_an_anonymous_client_is_refused(configured_nats: ConfiguredNats) -> None:
    """The generated configuration admits nobody without one of its nkeys."""
    with pytest.raises(nats.errors.Error, match=r"[Aa]uthorization"):
        await _refused(configured_nats.url)


async def test_a_seed_the_configuration_does_not_know_is_refused(
    configured_nats: ConfiguredNats, tmp_path: Path
) -> None:
    """A rotated-away seed no longer signs in once the server has the new users."""
    stale = _env(configured_nats.files / "slo.env")["PORTICO_NATS_NKEY_SEED"]
    other = tmp_path / "other"
    nats_config.write(other)
    proc, url = _start(other / nats_config.AUTH_CONF, tmp_path / "other-store")
    try:
        with pytest.raises(nats.errors.Error, match=r"[Aa]uthorization"):
            await _refused(url, nkeys_seed_str=stale)
    finally:
        terminate(proc)


async def test_every_service_binds_to_its_provisioned_consumers(
    provisioned: ConfiguredNats,
) -> None:
    """Each service, signed in from its env file, finds the streams and its own durables."""
    for service in SERVICES:
        nc = await _as(provisioned, service)
        try:
            js = nc.jetstream()
            await check_streams(js)
            for durable in CONSUMERS.get(service, {}):
                info = await js.consumer_info(STREAM, durable, timeout=5)
                assert info.name == durable
        finally:
            await nc.close()


async def test_a_service_publishes_its_own_events_and_no_one_elses(
    provisioned: ConfiguredNats,
) -> None:
    """slo's seed may publish slo.violated; publishing rollout.completed gets no ack."""
    slo = await _as(provisioned, "slo")
    try:
        ack = await publish(slo.jetstream(), _violation())
        assert ack.stream == STREAM
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await publish(slo.jetstream(), _forged_rollout_event(), wait_seconds=1.0)
    finally:
        await slo.close()
    rollout = await _as(provisioned, "rollout")
    try:
        sub = await rollout.jetstream().pull_subscribe_bind(durable="rollout-slo", stream=STREAM)
        [msg] = await sub.fetch(1, timeout=5)
        assert Envelope.decode(msg.headers, msg.data).type == "slo.violated"
        await msg.ack()
    finally:
        await rollout.close()


async def test_the_observer_seed_file_reads_events_and_publishes_nothing(
    provisioned: ConfiguredNats,
) -> None:
    """observer.nk (for people and dashboards) subscribes to events but cannot publish one."""
    seed = (provisioned.files / f"{OBSERVER}{nats_config.SEED_SUFFIX}").read_text()
    observer = await connect(
        provisioned.url, "test-observer", nkey_seed=seed, inbox_prefix=inbox_prefix(OBSERVER)
    )
    slo = await _as(provisioned, "slo")
    try:
        seen = await observer.subscribe("portico.>")
        await observer.flush()  # the server has the subscription before slo publishes
        await publish(slo.jetstream(), _violation())
        msg = await seen.next_msg(timeout=5)
        assert msg.subject == "portico.slo.violated"
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await publish(observer.jetstream(), _violation(), wait_seconds=1.0)
    finally:
        await slo.close()
        await observer.close()
