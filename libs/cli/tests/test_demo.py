"""`portico demo` against an in-memory Portico: both paths, the summary and the exit code."""

from __future__ import annotations

import re

import pytest
from fake_gateway import SECRET, FakePortico

from portico_cli.demo import run_demo
from portico_cli.endpoints import Endpoints

FOUND = Endpoints(
    gateway="http://portico.test",
    nats="",
    database="",
    services={},
    admin_client_id="portico-admin",
    started_at="2026-01-01T00:00:00+00:00",
)


async def demo(fake: FakePortico, secret: str = SECRET) -> int:
    return await run_demo(
        FOUND,
        secret,
        "",
        bake_seconds=1,
        rollback_bake_seconds=30,
        transport=fake.transport(),
        # The fake pages before the rollback is read: waiting longer shows nothing more.
        page_grace_seconds=1.0,
    )


async def test_both_paths_end_as_expected(capsys: pytest.CaptureFixture[str]) -> None:
    """2.3.0 reaches 100%, 2.4.0 is rolled back, every user returns to 2.3.0: exit 0."""
    fake = FakePortico()
    assert await demo(fake) == 0
    out = capsys.readouterr().out
    assert "rollout COMPLETED at 100%" in out
    assert "rollout ROLLED_BACK" in out
    assert "resolve after the rollback: 0/20 users on 2.4.0, 20 on 2.3.0" in out
    assert "COMPLETED: 10% -> 25% -> 50% -> 100%" in out
    assert "OK: @acme/plugin-cost-insights@2.3.0 reached 100%" in out
    assert "2.5.0 by its circuit breaker" in out
    assert SECRET not in out
    assert "tok:" not in out


async def test_a_problem_detail_is_shown_and_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A problem+json answer is reported by its detail; the rollback path does not run."""
    fake = FakePortico(reject_signature=True)
    assert await demo(fake) == 1
    out = capsys.readouterr().out
    assert "signature does not verify with key acme" in out
    assert "rollback path" in out
    assert "not run" in out
    assert "FAILED:" in out


async def test_wrong_credentials_fail_at_the_first_step(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad admin secret stops the demo with the gateway's explanation, not a traceback."""
    assert await demo(FakePortico(), secret="not-the-secret-4f2a") == 1
    out = capsys.readouterr().out
    assert "POST /v1/auth/token -> 401 Unauthenticated: invalid client credentials" in out
    assert "not-the-secret-4f2a" not in out


async def test_a_version_that_is_not_rolled_back_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """If the bad version completes instead of rolling back, the exit code says so."""
    assert await demo(FakePortico(never_violate=True)) == 1
    out = capsys.readouterr().out
    assert "ended COMPLETED instead of ROLLED_BACK" in out


async def test_a_user_losing_the_canary_version_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Stickiness is checked as the canary grows."""
    assert await demo(FakePortico(shuffle_users=True)) == 1
    out = capsys.readouterr().out
    assert "NOT STICKY" in out
    assert "a user lost the canary version while the canary grew" in out


async def test_the_summary_shows_the_page_and_the_breaker_rollback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The SLO's page reached the demo's PagerDuty receiver; 2.5.0's breaker rolled it back."""
    fake = FakePortico()
    assert await demo(fake) == 0
    out = capsys.readouterr().out
    summary = out[out.index("Summary") :]
    assert "page" in summary
    # Paged for the SLO the rollout ensured for 2.4.0 (the second rollout's).
    assert "delivered: trigger portico/demo-tenant/slo-2/page-1h (page-1h)" in summary
    assert "breaker path" in summary
    assert "ROLLED_BACK after 10% in" in summary
    assert "circuit breaker b-1 opened" in summary
    assert "resolve after the rollback: 0/20 users on 2.5.0, 20 on 2.3.0" in out
    # The channel the demo made points at its own receiver, with a PagerDuty routing key.
    assert fake.pagerduty["url"].startswith("http://127.0.0.1:")
    assert fake.pagerduty["url"].endswith("/v2/enqueue")


async def test_a_violation_that_pages_nobody_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without a page at the receiver the demo says so and exits 1."""
    assert await demo(FakePortico(never_page=True)) == 1
    out = capsys.readouterr().out
    assert "NOT delivered" in out
    assert "FAILED: the SLO violation paged nobody" in out


async def test_a_rollback_not_made_by_the_breaker_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The breaker path passes only if the rollback names the circuit breaker."""
    assert await demo(FakePortico(never_open=True)) == 1
    out = capsys.readouterr().out
    assert "2.5.0 was rolled back, but not by its breaker: slo violated" in out


async def test_the_demo_shows_the_slo_the_rollout_ensured_and_makes_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each version's SLO is the one its rollout ensured, read back and shown; none is created."""
    fake = FakePortico()
    assert await demo(fake) == 0
    out = capsys.readouterr().out
    assert not [c for c in fake.calls if c.startswith("POST") and "/slos" in c]
    for number in (1, 2, 3):
        assert any(c.startswith("GET ") and c.endswith(f"/slos/slo-{number}") for c in fake.calls)
        assert f"SLO slo-{number} ensured by the rollout: 99% good over 30d, min 10 events" in out
    assert "page-1h (page): burn > 14.4x over 1h and 5m" in out


async def test_a_rollout_that_names_no_slo_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the ensured SLO there is nothing to roll back on: the demo stops and says why."""
    assert await demo(FakePortico(no_slo=True)) == 1
    out = capsys.readouterr().out
    assert "the rollout of 2.3.0 names no SLO (sloId)" in out


async def test_the_demo_shows_a_hold_a_judged_rollback_and_a_paused_promotion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """2.6.0 holds for samples then completes; 2.7.0 fails the judge; 2.8.0 is paused, promoted."""
    assert await demo(FakePortico()) == 0
    out = capsys.readouterr().out
    assert "phase at 10% HOLDS: not enough samples: 0 of 30 canary outcomes" in out
    assert "rollout ROLLED_BACK: judgment FAIL" in out
    assert "operator paused the rollout at 10%" in out
    assert "resolve while paused: 2/20 users on 2.8.0" in out
    assert "operator promoted it to 100%" in out
    summary = out[out.index("Summary") :]
    assert "held path" in summary
    assert "COMPLETED: 10% -> 100% in" in summary
    assert "held: not enough samples: 0 of 30 canary outcomes" in summary
    assert "judged path" in summary
    assert "ROLLED_BACK after 50% in" in summary
    assert "the decision's source: judgment" in summary
    assert "paused path" in summary
    assert "paused at 10%, promoted to 100%" in summary
    assert "2.7.0 was rolled back by the statistical judgment" in out


async def test_a_judged_rollback_made_by_something_else_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The judged path passes only if the rolling-back decision came from the judgment."""
    assert await demo(FakePortico(judge_source="criteria")) == 1
    out = capsys.readouterr().out
    assert "2.7.0 was rolled back, but not by the judge: criteria" in out
    assert "the judged path failed" in out


async def test_the_demo_shows_a_dependency_chain_rolled_back_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """cost-alerts 1.1.0 needs cost-insights 2.9.0: 2.9.0's SLO rolls it back, then 1.1.0."""
    fake = FakePortico()
    assert await demo(fake) == 0
    out = capsys.readouterr().out
    assert "packed @acme/plugin-cost-alerts@1.1.0:" in out
    assert "needs @acme/plugin-cost-insights ^2.9.0" in out
    installed = "@acme/plugin-cost-alerts@1.0.0 installed next to @acme/plugin-cost-insights@2.8.0"
    assert installed in out
    chain = next(r for r in fake.rollouts.values() if r.version == "2.9.0")
    dependent = next(r for r in fake.rollouts.values() if r.version == "1.1.0")
    assert (chain.state, dependent.state) == ("ROLLOUT_STATE_ROLLED_BACK",) * 2
    assert (
        "rolled back in reverse dependency order: @acme/plugin-cost-insights@2.9.0 by its SLO,"
        " then @acme/plugin-cost-alerts@1.1.0, which needs it"
        f" (cause_rollout_id {chain.rollout_id})"
    ) in out
    assert "resolve after the rollback: 0/20 users on 1.1.0, 20 on 1.0.0" in out
    assert "resolve after the rollback: 0/20 users on 2.9.0, 20 on 2.8.0" in out
    summary = out[out.index("Summary") :]
    assert re.search(
        r"dependency path .*@acme/plugin-cost-insights@2\.9\.0 <- @acme/plugin-cost-alerts@1\.1\.0"
        r" .*ROLLED_BACK after 10% in .*needs @acme/plugin-cost-insights@2\.9\.0, rolled back by"
        rf" rollout {chain.rollout_id}.*2\.9\.0 first \(its SLO\)",
        summary,
    ), summary
    assert "2.9.0's rollback took @acme/plugin-cost-alerts@1.1.0, which needs it, back" in out
    # The dependent's compat check carried its dependency on the new version.
    assert dependent.needs == {"@acme/plugin-cost-insights": "^2.9.0"}


async def test_a_dependent_rolled_back_for_another_reason_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The dependency path passes only if the dependent's rollback names the dependency."""
    assert await demo(FakePortico(dependent_source="slo")) == 1
    out = capsys.readouterr().out
    assert (
        "@acme/plugin-cost-alerts@1.1.0 was rolled back, but not because"
        " @acme/plugin-cost-insights@2.9.0 was: slo"
    ) in out
    assert "the dependency path failed" in out
