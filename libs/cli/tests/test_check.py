"""`portico check` against a fake gateway: what it sends, what it prints, its exit code."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from portico_cli.check import EXIT_INCOMPATIBLE, check_package, target_of
from portico_cli.errors import CliError

SECRET = "s3cret-admin-4f2a"

FINDING_FAIL = {
    "dimension": "dependency",
    "name": "@backstage/core-plugin-api",
    "requiredRange": "^1.12.0",
    "hostVersion": "1.9.4",
    "reason": "Backstage 1.31.0 ships 1.9.4, outside '^1.12.0': npm would nest a second copy",
    "verdict": "VERDICT_FAIL",
}
FINDING_PASS = {"name": "react", "requiredRange": "^18", "verdict": "VERDICT_PASS"}


class FakeGateway:
    """Answers the token, check and both "which" routes; remembers the requests."""

    def __init__(self, *, compatible: bool = False, catalog_knows: bool = True) -> None:
        self.compatible = compatible
        self.catalog_knows = catalog_knows
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        path = request.url.path
        self.requests.append((request.method, path, body))
        if path == "/v1/auth/token":
            return httpx.Response(200, json={"accessToken": "tok", "expiresIn": 900})
        assert request.headers["authorization"] == "Bearer tok"
        if path.endswith("/packages:check"):
            return httpx.Response(200, json=self.checked())
        if path.endswith("/packages:required-release"):
            return httpx.Response(200, json=self.release())
        if path.endswith("/packages:fitting-version"):
            if not self.catalog_knows:
                return httpx.Response(
                    404,
                    json={"title": "Not Found", "detail": "the npm catalog has no package 'x'"},
                    headers={"content-type": "application/problem+json"},
                )
            return httpx.Response(200, json=self.fitting())
        return httpx.Response(404)

    def checked(self) -> dict[str, Any]:
        runtime = {
            "dimension": "runtime",
            "verdict": "VERDICT_PASS" if self.compatible else "VERDICT_FAIL",
            "summary": "2 checked: 1 fail, 1 pass; npm installs 1 extra copy next to the host's:"
            " @backstage/core-plugin-api",
            "findings": [FINDING_PASS] if self.compatible else [FINDING_FAIL, FINDING_PASS],
        }
        return {
            "package": {
                "name": "@backstage/plugin-catalog",
                "version": "1.32.0",
                "backstage": {"role": "frontend-plugin", "pluginId": "catalog"},
                "source": "package.json",
            },
            "report": {
                "checkId": "c-1",
                "compatible": self.compatible,
                "dimensions": [
                    {"dimension": "api", "verdict": "VERDICT_PASS", "summary": "no APIs"},
                    runtime,
                ],
            },
        }

    def release(self) -> dict[str, Any]:
        return {
            "current": {"backstageRelease": "1.31.0", "fits": self.compatible},
            "found": True,
            "release": "1.45.0",
            "releases": [
                {"backstageRelease": "1.31.0", "fits": self.compatible},
                {"backstageRelease": "1.45.0", "fits": True},
            ],
        }

    def fitting(self) -> dict[str, Any]:
        return {
            "backstageRelease": "1.31.0",
            "found": True,
            "version": "1.23.0",
            "tried": [{"version": "1.32.0"}, {"version": "1.23.0"}],
        }


async def check(fake: FakeGateway, target: str) -> int:
    return await check_package(
        "http://portico.test",
        "portico-admin",
        SECRET,
        target_of(target),
        "acme",
        transport=fake.transport(),
    )


async def test_an_incompatible_package_prints_the_report_and_both_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Failing findings are shown with their reasons, then the release and version answers."""
    package_json = tmp_path / "package.json"
    package_json.write_text('{"name": "@backstage/plugin-catalog", "version": "1.32.0"}')
    fake = FakeGateway()

    assert await check(fake, str(package_json)) == EXIT_INCOMPATIBLE

    out = capsys.readouterr().out
    assert out.splitlines()[:3] == [
        "@backstage/plugin-catalog 1.32.0 (frontend-plugin, plugin id catalog, from package.json)",
        "on tenant acme, Backstage 1.31.0",
        "NOT COMPATIBLE   check c-1",
    ]
    assert (
        "    FAIL  @backstage/core-plugin-api ^1.12.0 (host 1.9.4): Backstage 1.31.0 ships 1.9.4"
        in out
    )
    assert "react" not in out
    assert "Which release? Backstage 1.45.0, the earliest known that fits." in out
    assert "  known releases: 1.31.0 no, 1.45.0 fits" in out
    assert (
        "Which version? @backstage/plugin-catalog 1.23.0 is the newest that fits Backstage" in out
    )
    assert SECRET not in out
    sent = {path: body for _, path, body in fake.requests}
    assert sent["/v1/tenants/acme/packages:check"]["package"] == {
        "packageJson": package_json.read_text()
    }
    assert sent["/v1/tenants/acme/packages:fitting-version"] == {
        "plugin": "@backstage/plugin-catalog"
    }


async def test_a_compatible_package_exits_0_and_an_unknown_one_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Compatible is exit 0; a catalog without the package is said, not a failure."""
    fake = FakeGateway(compatible=True, catalog_knows=False)

    assert await check(fake, "@backstage/plugin-catalog@1.32.0") == 0

    out = capsys.readouterr().out
    assert "COMPATIBLE   check c-1" in out
    assert "It fits the host's Backstage 1.31.0 as it is." in out
    assert "Which version? The npm catalog cannot say: the npm catalog has no package 'x'" in out
    assert fake.requests[1][2] == {"package": {"spec": "@backstage/plugin-catalog@1.32.0"}}


def test_a_tarball_is_sent_as_base64(tmp_path: Path) -> None:
    """A gzip file is a tarball; its bytes go base64-encoded, as proto JSON wants bytes."""
    tarball = tmp_path / "plugin.tgz"
    tarball.write_bytes(gzip.compress(b"tar"))

    target = target_of(str(tarball))

    assert base64.b64decode(target.body["tarball"]) == tarball.read_bytes()


def test_what_is_neither_a_file_nor_a_spec_is_refused() -> None:
    """A name without a version is not guessed at."""
    with pytest.raises(CliError, match="is not a file, and not name@version"):
        target_of("@backstage/plugin-catalog")
