"""The whole suite as separate processes: `portico up`, then `portico demo`.

The demo drives the gateway over HTTP: a signed plugin is verified, checked,
rolled out 10% → 25% → 50% → 100%; a second version's SLO violation rolls it
back and pages a local PagerDuty receiver; a third version's circuit breaker
rolls it back; a later version's SLO violation takes the plugin that needs it
(cost-alerts) back with it. This test only passes if every path ends as the
user expects.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient

from portico_cli import tls
from portico_cli.paths import Home

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STARTUP_SECONDS = 180


def _env() -> dict[str, str]:
    # The suite must start its own NATS and PostgreSQL, whatever the caller set.
    return {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A running `portico up` on a fresh home; stopped with SIGTERM afterwards."""
    home = tmp_path / "home"
    env = _env()
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        # Port 0: the gateway binds a free port; endpoints.json says which.
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


def _cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "portico_cli", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )


def test_demo_rolls_one_version_out_and_another_back(suite: tuple[Path, dict[str, str]]) -> None:
    """Every service is healthy, 2.3.0 reaches 100%, 2.4.0 is rolled back by its SLO (which
    pages the demo's PagerDuty receiver) and 2.5.0 by its circuit breaker; 2.6.0's phase holds
    for lack of samples, 2.7.0 fails the statistical judgment, 2.8.0 is paused then promoted,
    and 2.9.0's violation rolls back cost-alerts 1.1.0 (which needs it) after it."""
    home, env = suite
    endpoints = json.loads((home / "endpoints.json").read_text())
    assert set(endpoints["services"]) == {"auth", "tenancy", "security", "compat", "rollout", "slo"}

    status = _cli(home, env, "status")
    assert status.returncode == 0, status.stdout + status.stderr

    demo = _cli(home, env, "demo", "--bake-seconds", "1")
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output
    assert "OK: @acme/plugin-cost-insights@2.3.0 reached 100%" in demo.stdout
    summary = demo.stdout[demo.stdout.index("Summary") :]
    # Each version's SLO is the one its rollout ensured; the demo creates none of its own.
    ensured = re.findall(r"SLO ([0-9a-f-]{36}) ensured by the rollout", demo.stdout)
    versions = re.findall(r"packed @acme/plugin-cost-insights@(\S+):", demo.stdout)
    assert len(versions) == len(set(versions)) == 7, output
    packed = re.findall(r"packed (@acme/\S+):", demo.stdout)
    assert len(packed) == len(set(packed)) == 9, output
    assert len(ensured) == len(set(ensured)) == len(packed), output
    # The SLO's page reached the demo's PagerDuty receiver, keyed by tenant, SLO and tier:
    # the SLO rollout ensured for 2.4.0.
    paged = re.search(r"delivered: trigger portico/demo-[0-9a-f]+/([0-9a-f-]{36})/\S+ \(", summary)
    assert paged is not None, output
    assert paged.group(1) == ensured[1], output
    # 2.5.0's breaker opened on slow calls and rolled the canary back.
    assert re.search(r"breaker path .*ROLLED_BACK after .*circuit breaker \S+ opened", summary), (
        output
    )
    # A phase held for lack of samples (no data is not success), then completed on evidence.
    assert "phase at 10% HOLDS: not enough samples: 0 of 30 canary outcomes" in demo.stdout, output
    assert re.search(
        r"held path .*COMPLETED: 10% -> 100% in .*held: not enough samples", summary
    ), output
    # Kayenta's judgment (canary against baseline) failed the slow 2.7.0 and rolled it back.
    assert re.search(r"judged path .*ROLLED_BACK after 50% in .*source: judgment", summary), output
    # An operator paused 2.8.0 at 10%, then promoted it to 100%.
    assert "operator paused the rollout at 10%" in demo.stdout, output
    assert re.search(r"paused path .*COMPLETED: .*paused at 10%, promoted to 100%", summary), output
    # 2.9.0's SLO rolled it back, then rollout's saga rolled back cost-alerts 1.1.0 (which
    # needs 2.9.0, as compat's catalog says) naming 2.9.0's rollout as the cause.
    chain = re.search(
        r"rolled back in reverse dependency order: @acme/plugin-cost-insights@2\.9\.0 by its SLO,"
        r" then @acme/plugin-cost-alerts@1\.1\.0, which needs it \(cause_rollout_id (\S+)\)",
        demo.stdout,
    )
    assert chain is not None, output
    rolled_back = [line for line in demo.stdout.splitlines() if "* rollout.rolled_back" in line]
    first = next(i for i, line in enumerate(rolled_back) if "cost-insights@2.9.0 -> 2.8.0" in line)
    then = next(i for i, line in enumerate(rolled_back) if "cost-alerts@1.1.0 -> 1.0.0" in line)
    assert first < then, output
    assert rolled_back[then].endswith(f"cause_rollout_id {chain.group(1)}"), output
    assert "cause_rollout_id" not in rolled_back[first], output
    assert re.search(r"dependency path .* ROLLED_BACK after 10% in .*2\.9\.0 first", summary), (
        output
    )
    assert "every user is back on @acme/plugin-cost-insights@2.8.0 and" in demo.stdout, output
    for event in (
        "rollout.paused",
        "rollout.decision.recorded",
        "rollout.started",
        "rollout.phase.advanced",
        "rollout.completed",
        "slo.violated",
        "slo.breaker.opened",
        "rollout.rolled_back",
    ):
        assert event in demo.stdout, f"{event} missing from the timeline:\n{output}"
    reaction = re.search(r"([\d.]+) ms \(server clocks\)", demo.stdout)
    assert reaction is not None, output
    # Generous bound for a loaded CI machine; the figure itself is reported, not asserted tight.
    assert float(reaction.group(1)) < 5000, output


def test_the_suites_nats_admits_only_its_own_users(suite: tuple[Path, dict[str, str]]) -> None:
    """The embedded NATS refuses a plain or anonymous client; a service signs in as itself.

    It speaks TLS only and wants a certificate of the home's CA (the CLI's here).
    """
    home, _ = suite
    url = json.loads((home / "endpoints.json").read_text())["nats"]
    assert url.startswith("tls://")
    context = tls.cli_nats(tls.cli_ca(Home(home)))
    assert context is not None

    seeds = json.loads((home / "nats-identities.json").read_text())
    assert set(seeds) >= {"auth", "tenancy", "security", "compat", "rollout", "slo", "observer"}
    assert (home / "nats-identities.json").stat().st_mode & 0o077 == 0

    async def anonymous() -> None:
        nc = NatsClient()
        try:
            await nc.connect(
                url,
                connect_timeout=3,
                allow_reconnect=False,
                tls=context,
                tls_handshake_first=True,
            )
        finally:
            await asyncio.wait_for(nc.close(), 5)  # a refused client's socket must not leak

    async def plain() -> None:
        nc = NatsClient()
        try:
            await nc.connect(
                url.replace("tls://", "nats://"), connect_timeout=2, allow_reconnect=False
            )
        finally:
            await asyncio.wait_for(nc.close(), 5)

    async def as_slo() -> bool:
        nc = await nats.connect(
            url,
            nkeys_seed_str=seeds["slo"],
            inbox_prefix="_INBOX_slo",
            allow_reconnect=False,
            tls=context,
            tls_handshake_first=True,
        )
        connected = bool(nc.is_connected)
        await nc.close()
        return connected

    with pytest.raises((nats.errors.Error, OSError, TimeoutError)):
        asyncio.run(plain())
    with pytest.raises(nats.errors.Error, match=r"[Aa]uthorization"):
        asyncio.run(anonymous())
    assert asyncio.run(as_slo())
