"""docker-compose.yml and the Helm chart use the NATS identities `portico nats-config` writes.

Read without a Docker engine or a cluster: compose's model is the YAML (merge
keys resolved), the chart's components are its values.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from portico_cli import nats_config
from portico_common.events.nats_permissions import PROVISIONER
from portico_common.events.topology import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
VALUES = ROOT / "deploy" / "helm" / "portico" / "values.yaml"
CONFIG_DIR = "${PORTICO_NATS_CONFIG_DIR:-./.secrets/nats}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert isinstance(services, dict)
    return services


def _resolve(path: str, directory: Path) -> Path:
    """A compose path with the NATS config directory variable set to `directory`."""
    return Path(path.replace(CONFIG_DIR, str(directory)))


def test_compose_looks_where_the_command_writes_by_default() -> None:
    """The compose default directory is the command's default `--out`."""
    assert CONFIG_DIR.endswith(f"./{nats_config.DEFAULT_DIR}}}")


def test_every_service_reads_its_own_env_file_and_nothing_else(compose: dict[str, Any]) -> None:
    """Each service's only env file is its own; the gateway gets none (it is not on the bus)."""
    for service in SERVICES:
        assert compose[service]["env_file"] == [f"{CONFIG_DIR}/{service}.env"], service
    assert "env_file" not in compose["gateway"]
    readers = {name for name, svc in compose.items() if "env_file" in svc}
    assert readers == {*SERVICES, "nats-provision"}


def test_every_env_file_compose_reads_is_one_the_command_writes(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """After `portico nats-config`, every env file and the conf that compose names exist."""
    nats_config.write(tmp_path)
    named = [path for svc in compose.values() for path in svc.get("env_file", [])]
    named += [
        volume["source"]
        for volume in compose["nats"]["volumes"]
        if isinstance(volume, dict) and volume.get("type") == "bind"
    ]
    assert len(named) == len(nats_config.DEPLOYED) + 1
    for path in named:
        assert _resolve(path, tmp_path).is_file(), path


def test_nats_loads_the_generated_users_and_refuses_to_start_without_them(
    compose: dict[str, Any],
) -> None:
    """The server gets --config with the conf mounted read-only, never an empty directory."""
    nats = compose["nats"]
    assert "--config=/etc/nats/nats-auth.conf" in nats["command"]
    (mount,) = [v for v in nats["volumes"] if isinstance(v, dict)]
    assert mount["source"] == f"{CONFIG_DIR}/{nats_config.AUTH_CONF}"
    assert mount["target"] == "/etc/nats/nats-auth.conf"
    assert mount["read_only"] is True
    assert mount["bind"]["create_host_path"] is False


def test_the_provisioner_runs_once_before_every_service(compose: dict[str, Any]) -> None:
    """nats-provision creates streams and consumers as the provisioner; services wait for it."""
    job = compose["nats-provision"]
    assert job["command"] == ["python", "-m", "portico_common.events.provision"]
    assert job["env_file"] == [f"{CONFIG_DIR}/{PROVISIONER}.env"]
    assert job["restart"] == "no"
    assert job["depends_on"] == {"nats": {"condition": "service_healthy"}}
    assert job["image"] == compose["rollout"]["image"]
    for service in SERVICES:
        assert compose[service]["depends_on"]["nats-provision"] == {
            "condition": "service_completed_successfully"
        }, service


def test_the_compose_header_names_the_set_up_command() -> None:
    """The one extra step is in the file's header, before `docker compose up`."""
    header = COMPOSE.read_text().split("\nname:", 1)[0]
    setup = header.index("portico nats-config")
    assert setup < header.index("docker compose up --build -d")


def test_the_charts_bus_components_are_the_topologys_services() -> None:
    """Every gRPC component of the chart is a NATS identity, so its seed key exists."""
    values = yaml.safe_load(VALUES.read_text())
    default_kind = values["componentDefaults"]["kind"]
    grpc = {
        name for name, c in values["components"].items() if c.get("kind", default_kind) == "grpc"
    }
    assert grpc == set(SERVICES)
    assert values["nats"]["identitiesSecret"] == "", "the chart never names a default Secret"


def test_the_charts_required_message_names_every_key_the_secret_needs() -> None:
    """The error for a missing nats.identitiesSecret lists the keys `nats-config` makes."""
    helpers = (ROOT / "deploy" / "helm" / "portico" / "templates" / "_helpers.tpl").read_text()
    message = re.search(r'required "(nats\.identitiesSecret is required[^"]*)"', helpers)
    assert message is not None
    for name in nats_config.DEPLOYED:
        assert re.search(rf"\b{name}\b", message.group(1)), name
