"""docker-compose.yml gives each service its own client at auth, and auth all of them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CALLERS = ("tenancy", "security", "compat", "rollout", "slo")


def services() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found: dict[str, Any] = data["services"]
    return found


def test_each_service_authenticates_as_its_own_client() -> None:
    for name in CALLERS:
        env = services()[name]["environment"]
        assert env["PORTICO_AUTH_CLIENT_ID"] == f"svc-{name}"
        assert env["PORTICO_AUTH_CLIENT_SECRET"].startswith(
            f"${{PORTICO_{name.upper()}_CLIENT_SECRET:?"
        ), name


def test_auth_is_given_every_service_client_and_no_one_else_sees_them() -> None:
    raw = services()["auth"]["environment"]["PORTICO_AUTH_SERVICE_CLIENT_SECRETS"]
    # What compose substitutes is the variable each service reads for its own secret.
    template = json.loads(re.sub(r"\$\{(\w+):\?[^}]*\}", r"<\1>", raw))
    assert template == {name: f"<PORTICO_{name.upper()}_CLIENT_SECRET>" for name in CALLERS}
    for name, service in services().items():
        if name != "auth":
            assert "PORTICO_AUTH_SERVICE_CLIENT_SECRETS" not in service.get("environment", {})


def test_only_slo_holds_the_channel_secret_key() -> None:
    holders = [
        name
        for name, service in services().items()
        if "PORTICO_SLO_CHANNEL_SECRET_KEY" in (service.get("environment") or {})
    ]
    assert holders == ["slo"]


def test_only_tenancy_holds_the_kek_and_every_service_knows_where_tenancy_is() -> None:
    """tenancy alone gets the key-encryption key; the others fetch tenants' keys from it."""
    holders = [
        name
        for name, service in services().items()
        if "PORTICO_TENANCY_KMS_KEY" in (service.get("environment") or {})
    ]
    assert holders == ["tenancy"]
    for name in CALLERS:
        assert services()[name]["environment"]["PORTICO_TENANCY_TARGET"] == "tenancy:50051"
