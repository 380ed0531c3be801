"""`dbsetup place` and `dbsetup move`: which tier each names, and one-line errors for bad input."""

from __future__ import annotations

import pytest

from portico_common.db import Tier
from portico_common.dbsetup import tenant_main, tenant_step_tier
from portico_common.errors import DatabaseSetupError


@pytest.mark.parametrize(
    ("step", "isolation", "to", "tier"),
    [
        ("move", None, None, Tier.BRIDGE),
        ("move", None, "pool", Tier.POOL),
        ("move", None, "silo", Tier.SILO),
        ("move", "bridge", None, Tier.BRIDGE),
        ("move", "silo", "silo", Tier.SILO),
        ("place", "bridge", None, Tier.BRIDGE),
        ("place", "silo", None, Tier.SILO),
    ],
)
def test_each_step_names_its_tier(
    step: str, isolation: str | None, to: str | None, tier: Tier
) -> None:
    assert tenant_step_tier(step, isolation, to) is tier


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["move", "--tenant", "acme", "--to", "mars"],
            "move --to must be pool, bridge or silo, not 'mars'",
        ),
        (["move", "--tenant", "acme", "--to", "silo", "--isolation", "bridge"], "give one"),
        (["move", "--tenant", "Not A Tenant!"], "invalid --tenant 'Not A Tenant!'"),
        (["move", "--to", "pool"], "the following arguments are required: --tenant"),
        (
            ["move", "--tenant", "acme", "--service", "nope"],
            "argument --service: invalid choice: 'nope'",
        ),
        (["place", "--tenant", "acme"], "place needs --isolation bridge or silo"),
        (
            ["place", "--tenant", "acme", "--isolation", "pool"],
            "place needs --isolation bridge or silo, not 'pool'",
        ),
        (
            ["place", "--tenant", "acme", "--isolation", "silo", "--to", "silo"],
            "place takes --isolation",
        ),
    ],
)
def test_bad_input_is_refused_on_one_line_before_any_database(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(tenant_main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("dbsetup: ")
    assert said in err


def test_a_tier_outside_the_three_is_no_tier() -> None:
    with pytest.raises(DatabaseSetupError, match="not 'bridges'"):
        tenant_step_tier("move", None, "bridges")
