"""compat on real Backstage data end to end: `portico up`, the gateway, `portico check`.

Backstage's versions service is a local HTTP server serving the published
1.31.0 and 1.45.0 manifests (PORTICO_RELEASE_MANIFESTS_URL); compat's npm
catalog is a catalog file with plugin-catalog's real versions
(PORTICO_CATALOG_FILE). The fixtures and their sources are in
services/compat/tests/fixtures/backstage.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from portico_cli import credentials, endpoints
from portico_cli.paths import Home

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STARTUP_SECONDS = 180
FIXTURES = Path(__file__).parents[2] / "services" / "compat" / "tests" / "fixtures" / "backstage"
REACT = {"react": "18.3.1", "react-dom": "18.3.1", "react-router-dom": "6.28.0"}
CATALOG = "@backstage/plugin-catalog"
PACKAGE_JSON = FIXTURES / "packages" / "backstage__plugin-catalog@1.32.0.package.json"


@pytest.fixture(scope="module")
def versions_service() -> Iterator[tuple[str, list[str]]]:
    """The published manifests on 127.0.0.1, as versions.backstage.io serves them."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            parts = self.path.strip("/").split("/")
            file = FIXTURES / "manifests" / f"{parts[2] if len(parts) == 4 else '-'}.json"
            ok = parts[:2] == ["v1", "releases"] and file.is_file()
            body = file.read_bytes() if ok else b"Not Found"
            self.send_response(200 if ok else 404)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def suite(
    tmp_path_factory: pytest.TempPathFactory, versions_service: tuple[str, list[str]]
) -> Iterator[tuple[Path, dict[str, str]]]:
    """One `portico up` whose compat reads the versions service and the catalog file."""
    tmp_path = tmp_path_factory.mktemp("compat-check")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env["PORTICO_RELEASE_MANIFESTS_URL"] = versions_service[0]
    env["PORTICO_CATALOG_FILE"] = str(FIXTURES / "catalog" / "packuments.json")
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "portico_cli", "up", "--home", str(home), "--gateway-port", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (home / "endpoints.json").exists():
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "portico up did not come up in time"
            time.sleep(0.2)
        yield home, env
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(90)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()


@dataclass
class Portal:
    """The gateway over HTTP with the admin client, on one fresh tenant."""

    home: Path
    tenant: str

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        found = endpoints.read(Home(self.home).endpoints)
        secret = credentials.admin_client_secret(Home(self.home).secrets)
        tenant = "*" if path == "/v1/tenants" else self.tenant
        async with httpx.AsyncClient(base_url=found.gateway, timeout=60) as http:
            issued = await http.post(
                "/v1/auth/token",
                json={
                    "clientId": found.admin_client_id,
                    "clientSecret": secret,
                    "tenantId": tenant,
                },
            )
            assert issued.status_code == 200, issued.text
            headers = {"authorization": f"Bearer {issued.json()['accessToken']}"}
            return await http.request(method, path, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self.call(method, path, body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def host_on(self, release: str) -> None:
        await self.ok(
            "PUT",
            f"/v1/tenants/{self.tenant}/host-profile",
            {"backstageVersion": release, "nodeVersion": "20.18.0", "packages": REACT},
        )


def portal(home: Path, name: str) -> Portal:
    """A new tenant, created by the platform admin."""
    tenant = f"{name}-{os.getpid()}-{time.monotonic_ns() % 100_000}"
    made = Portal(home, tenant)
    asyncio.run(made.ok("POST", "/v1/tenants", {"tenantId": tenant}))
    return made


def cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "portico_cli", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_real_manifests_are_accepted_over_the_gateway_and_bad_ones_refused(
    suite: tuple[Path, dict[str, str]],
) -> None:
    """PUT release-manifests with Backstage's own 1.31.0 and 1.45.0: 200, every package kept."""
    home, _ = suite
    acme = portal(home, "manifests")

    async def go() -> None:
        for release, count in (("1.31.0", 178), ("1.45.0", 190)):
            document = (FIXTURES / "manifests" / f"{release}.json").read_text()
            stored = await acme.ok(
                "PUT",
                f"/v1/tenants/{acme.tenant}/release-manifests/{release}",
                {"publishedManifest": document},
            )
            assert len(stored["manifest"]["packages"]) == count
            assert "@techdocs/cli" in stored["manifest"]["packages"]
        bad = json.dumps(
            {"releaseVersion": "1.31.0", "packages": [{"name": "@techdocs/cli", "version": "1.8"}]}
        )
        refused = await acme.call(
            "PUT",
            f"/v1/tenants/{acme.tenant}/release-manifests/1.31.0",
            {"publishedManifest": bad},
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"].startswith(
            "invalid release manifest packages: '@techdocs/cli' version '1.8'"
        )

    asyncio.run(go())


def test_portico_check_prints_the_report_and_both_which_answers(
    suite: tuple[Path, dict[str, str]], versions_service: tuple[str, list[str]]
) -> None:
    """On 1.31.0 plugin-catalog 1.32.0 fails on singletons and needs 1.45.0; on 1.45.0 it fits."""
    home, env = suite
    acme = portal(home, "check")
    asyncio.run(acme.host_on("1.31.0"))
    asyncio.run(acme.ok("PUT", f"/v1/tenants/{acme.tenant}/release-manifests/1.45.0", {}))

    old_host = cli(home, env, "check", str(PACKAGE_JSON), "--tenant", acme.tenant)

    assert old_host.returncode == 2, old_host.stdout + old_host.stderr
    out = old_host.stdout
    assert out.startswith(
        f"{CATALOG} 1.32.0 (frontend-plugin, plugin id catalog, from package.json)\n"
        f"on tenant {acme.tenant}, Backstage 1.31.0\nNOT COMPATIBLE"
    )
    assert (
        "    FAIL  @backstage/core-plugin-api ^1.12.0 (host 1.9.4): Backstage 1.31.0 ships 1.9.4,"
        " outside '^1.12.0': npm would nest a second copy of @backstage/core-plugin-api" in out
    )
    assert (
        "    WARN  @backstage/catalog-client ^1.12.1 (host 1.7.0): Backstage 1.31.0 ships 1.7.0,"
        " outside '^1.12.1': npm nests 1 extra copy of @backstage/catalog-client" in out
    )
    assert "npm installs 18 extra copies next to the host's" in out
    assert "Which release? Backstage 1.45.0, the earliest known that fits." in out
    assert "  known releases: 1.31.0 no, 1.45.0 fits" in out
    assert f"Which version? No version of {CATALOG} in the catalog fits Backstage 1.31.0" in out
    fetched = [path for path in versions_service[1] if "1.31.0" in path]
    assert fetched == ["/v1/releases/1.31.0/manifest.json"]

    asyncio.run(acme.host_on("1.45.0"))
    new_host = cli(home, env, "check", f"{CATALOG}@1.32.0", "--tenant", acme.tenant)

    assert "runtime      PASS  22 checked: 22 pass" in new_host.stdout, new_host.stdout
    assert "It fits the host's Backstage 1.45.0 as it is." in new_host.stdout
    assert f"Which version? {CATALOG} 1.32.0 is the newest that fits Backstage 1.45.0" in (
        new_host.stdout
    )


def test_the_which_answers_over_http(suite: tuple[Path, dict[str, str]]) -> None:
    """required-release and fitting-version answer through the gateway's routes."""
    home, _ = suite
    acme = portal(home, "which")

    async def go() -> tuple[dict[str, Any], dict[str, Any], httpx.Response]:
        await acme.host_on("1.45.0")
        await acme.ok("PUT", f"/v1/tenants/{acme.tenant}/release-manifests/1.31.0", {})
        needed = await acme.ok(
            "POST",
            f"/v1/tenants/{acme.tenant}/packages:required-release",
            {"package": {"packageJson": PACKAGE_JSON.read_text()}},
        )
        fitting = await acme.ok(
            "POST", f"/v1/tenants/{acme.tenant}/packages:fitting-version", {"plugin": CATALOG}
        )
        unknown = await acme.call(
            "POST", f"/v1/tenants/{acme.tenant}/packages:fitting-version", {"plugin": "@acme/x"}
        )
        return needed, fitting, unknown

    needed, fitting, unknown = asyncio.run(go())

    assert (needed["found"], needed["release"]) == (True, "1.45.0")
    assert [(r["backstageRelease"], r.get("fits", False)) for r in needed["releases"]] == [
        ("1.31.0", False),
        ("1.45.0", True),
    ]
    assert (fitting["found"], fitting["version"]) == (True, "1.32.0")
    assert unknown.status_code == 404, unknown.text
