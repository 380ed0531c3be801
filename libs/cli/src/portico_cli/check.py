"""`portico check PACKAGE_JSON|TARBALL|NAME@VERSION --tenant T`: a package against a host.

Through the gateway with the admin client's token for the tenant, as the other
commands call it: the compatibility report (recorded like any check), then the
two "which" answers: the earliest release the tenant knows that the package
fits, and the newest version of it (from compat's npm catalog) that fits the
host as it is. Exit 0 when compatible, 2 when not, 1 when it cannot be checked.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from portico_cli import credentials, endpoints
from portico_cli.api import ApiError, Gateway, TenantApi, Tokens
from portico_cli.errors import CliError, NotRunningError
from portico_cli.leftovers import alive
from portico_cli.paths import Home

# How long a call waits out an outage (a service restarting, its database down).
RETRY_SECONDS = 60.0

EXIT_INCOMPATIBLE = 2
GZIP_MAGIC = b"\x1f\x8b"
# Shown per dimension; the rest are counted.
MAX_FINDINGS_SHOWN = 25
_VERDICTS = {
    "VERDICT_PASS": "PASS",
    "VERDICT_WARN": "WARN",
    "VERDICT_NEEDS_APPROVAL": "NEEDS APPROVAL",
    "VERDICT_FAIL": "FAIL",
}


@dataclass(frozen=True)
class Target:
    """How the package was named on the command line, as PackageInput's JSON."""

    body: dict[str, str]
    label: str


def target_of(text: str) -> Target:
    """A file (a tarball if gzip, else package.json text), else `name@version`."""
    path = Path(text)
    if path.is_file():
        data = path.read_bytes()
        if data.startswith(GZIP_MAGIC):
            return Target({"tarball": base64.b64encode(data).decode()}, f"tarball {path}")
        try:
            return Target({"packageJson": data.decode("utf-8")}, str(path))
        except UnicodeDecodeError:
            raise CliError(f"{path} is neither a gzip tarball nor UTF-8 package.json") from None
    if text.rfind("@") > 0:
        return Target({"spec": text}, text)
    raise CliError(f"{text!r} is not a file, and not name@version")


def run(home_dir: Path, target: str, tenant: str, *, installed_version: str = "") -> int:
    home = Home(home_dir)
    found = endpoints.read(home.endpoints)
    if found.pid and not alive(found.pid):
        raise NotRunningError(
            f"Portico is not running ({home.endpoints} is stale). Start it with `portico up`."
        )
    secret = credentials.admin_client_secret(home.secrets)
    return asyncio.run(
        check_package(
            found.gateway,
            found.admin_client_id,
            secret,
            target_of(target),
            tenant,
            installed_version=installed_version,
        )
    )


async def check_package(
    gateway_url: str,
    client_id: str,
    secret: str,
    target: Target,
    tenant: str,
    *,
    installed_version: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Print the report and the two answers; the exit code. `transport` is for tests."""
    gateway = Gateway(
        gateway_url,
        timeout=30.0,
        transport=transport,
        retry_for_seconds=RETRY_SECONDS,
        on_wait=lambda text: print(f"portico check: {text}", file=sys.stderr, flush=True),
    )
    api = TenantApi(gateway, Tokens(gateway, client_id, secret), tenant)
    try:
        body: dict[str, Any] = {"package": target.body}
        if installed_version:
            body["installedVersion"] = installed_version
        checked = await api.call("POST", "/packages:check", body)
        release = await api.call("POST", "/packages:required-release", {"package": target.body})
        package = checked.get("package", {})
        fitting = await _fitting(api, str(package.get("name", "")))
    finally:
        await gateway.close()
    print(report_text(tenant, checked, release, fitting))
    return 0 if checked.get("report", {}).get("compatible") else EXIT_INCOMPATIBLE


async def _fitting(api: TenantApi, plugin: str) -> dict[str, Any] | str:
    """The newest fitting version, or why the catalog cannot say."""
    try:
        return await api.call("POST", "/packages:fitting-version", {"plugin": plugin})
    except ApiError as exc:
        if exc.status in {httpx.codes.NOT_FOUND, httpx.codes.SERVICE_UNAVAILABLE}:
            return exc.detail or str(exc)
        raise


def report_text(
    tenant: str, checked: dict[str, Any], release: dict[str, Any], fitting: dict[str, Any] | str
) -> str:
    """The report as the terminal shows it."""
    package = checked.get("package", {})
    report = checked.get("report", {})
    current = release.get("current", {})
    host_release = current.get("backstageRelease", "?")
    lines = [_headline(package), f"on tenant {tenant}, Backstage {host_release}"]
    verdict = "COMPATIBLE" if report.get("compatible") else "NOT COMPATIBLE"
    if report.get("approvalRequired"):
        verdict += " (needs approval)"
    lines += [f"{verdict}   check {report.get('checkId', '')}", ""]
    for dimension in report.get("dimensions", []):
        lines += _dimension_lines(dimension)
    lines += ["", *_release_lines(release, host_release), *_fitting_lines(package, fitting)]
    return "\n".join(lines)


def _headline(package: dict[str, Any]) -> str:
    head = f"{package.get('name', '?')} {package.get('version', '?')}"
    backstage = package.get("backstage")
    facts = []
    if isinstance(backstage, dict):
        if backstage.get("role"):
            facts.append(str(backstage["role"]))
        if backstage.get("pluginId"):
            facts.append(f"plugin id {backstage['pluginId']}")
    facts.append(f"from {package.get('source', '?')}")
    return f"{head} ({', '.join(facts)})"


def _dimension_lines(dimension: dict[str, Any]) -> list[str]:
    verdict = _VERDICTS.get(dimension.get("verdict", ""), "?")
    lines = [f"{dimension.get('dimension', '?'):<12} {verdict:<5} {dimension.get('summary', '')}"]
    shown = [f for f in dimension.get("findings", []) if f.get("verdict") != "VERDICT_PASS"]
    # Worst first: what blocks the plugin before what only costs.
    shown.sort(key=lambda f: -list(_VERDICTS).index(f.get("verdict", "VERDICT_FAIL")))
    for finding in shown[:MAX_FINDINGS_SHOWN]:
        mark = _VERDICTS.get(finding.get("verdict", ""), "?")
        wanted = finding.get("requiredRange", "")
        has = finding.get("hostVersion", "")
        what = finding.get("name", "")
        if wanted:
            what += f" {wanted}"
        if has:
            what += f" (host {has})"
        lines.append(f"    {mark:<5} {what}: {finding.get('reason', '')}")
    if len(shown) > MAX_FINDINGS_SHOWN:
        lines.append(f"    ... and {len(shown) - MAX_FINDINGS_SHOWN} more")
    return lines


def _release_lines(release: dict[str, Any], host_release: str) -> list[str]:
    known = ", ".join(
        f"{r.get('backstageRelease')} {'fits' if r.get('fits') else 'no'}"
        for r in release.get("releases", [])
    )
    if release.get("current", {}).get("fits"):
        answer = f"Which release? It fits the host's Backstage {host_release} as it is."
    elif release.get("found"):
        answer = f"Which release? Backstage {release.get('release')}, the earliest known that fits."
    else:
        answer = "Which release? None of the releases known to this tenant fits it."
    return [answer, f"  known releases: {known or 'none recorded'}"]


def _fitting_lines(package: dict[str, Any], fitting: dict[str, Any] | str) -> list[str]:
    name = package.get("name", "?")
    if isinstance(fitting, str):
        return [f"Which version? The npm catalog cannot say: {fitting}"]
    tried = fitting.get("tried", [])
    release = fitting.get("backstageRelease", "?")
    if fitting.get("found"):
        line = (
            f"Which version? {name} {fitting.get('version')} is the newest that fits"
            f" Backstage {release} (of {len(tried)} tried, newest first)."
        )
    else:
        line = (
            f"Which version? No version of {name} in the catalog fits Backstage {release}"
            f" ({len(tried)} tried)."
        )
    return [line]
