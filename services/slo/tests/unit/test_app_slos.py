"""CreateSlo and GetSlo in the app layer."""

from __future__ import annotations

import pytest

from portico_common.clock import ManualClock
from portico_common.tenants import InvalidTenantIdError
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.durations import Duration
from portico_slo.domain.indicator import Indicator, SliKind
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.scope import Scope, ScopeKind
from portico_slo.domain.slo import SloState
from portico_slo.domain.tiers import AlertPolicy, BurnRateTier, Severity
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import (
    InvalidSloDefinitionError,
    SloAlreadyExistsError,
    SloNotFoundError,
)

PLUGIN = "@acme/plugin-cost-insights"


async def create(
    store: MemoryStore, gauge: MemoryBurnRates, tenant_id: str = "acme", **fields: float
) -> SloRecord:
    request: dict[str, object] = {
        "tenant_id": tenant_id,
        "plugin": PLUGIN,
        "version": "2.3.0",
        "objective": 0.99,
    }
    request.update(fields)
    return await handlers.create_slo(store.uow_factory(), gauge, **request)  # type: ignore[arg-type]


async def test_create_takes_defaults_for_unset_fields(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Fields left at 0 take the SRE workbook defaults; the SLO starts OK and is stored."""
    slo = await create(store, gauge)

    assert slo.definition == SloDefinition(
        slo_id=slo.slo_id,
        tenant_id="acme",
        scope=Scope(ScopeKind.VERSION, PLUGIN, "2.3.0"),
        objective=0.99,
        window=TimeWindow(Duration(30, "d")),
        alerting=AlertPolicy(
            (
                BurnRateTier("page-1h", Severity.PAGE, 3600, 300, 14.4),
                BurnRateTier("page-6h", Severity.PAGE, 21_600, 1800, 6.0),
                BurnRateTier("ticket-1d", Severity.TICKET, 86_400, 7200, 3.0),
                BurnRateTier("ticket-3d", Severity.TICKET, 259_200, 21_600, 1.0),
            ),
            min_events=10,
        ),
        indicator=Indicator(SliKind.RATIO, latency_threshold_ms=0),
    )
    assert slo.definition.name == f"{PLUGIN}@2.3.0"
    assert (slo.definition.burn_rate_threshold, slo.definition.short_window_seconds) == (14.4, 300)
    assert slo.status.state is SloState.OK
    assert (slo.bucket_seconds, slo.created_at) == (10, clock.now())
    assert store.state.slos == {slo.slo_id: slo}


async def test_duplicate_version_already_exists(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """A second SLO for the same plugin version is ALREADY_EXISTS, naming the first one."""
    first = await create(store, gauge)

    with pytest.raises(SloAlreadyExistsError, match=first.slo_id) as raised:
        await create(store, gauge, objective=0.999)

    assert raised.value.code == "ALREADY_EXISTS"
    assert list(store.state.slos) == [first.slo_id]


async def test_each_tenant_has_its_own_slo_per_version(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """Two tenants may each define an SLO for the same plugin version."""
    ours = await create(store, gauge, tenant_id="acme")
    theirs = await create(store, gauge, tenant_id="globex")

    assert ours.slo_id != theirs.slo_id
    assert len(store.state.slos) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"objective": 1.0},
        {"objective": float("nan")},
        {"short_window_seconds": 3600, "long_window_seconds": 3600},
        {"burn_rate_threshold": 150.0},
        {"tenant_id": "*"},
        {"tenant_id": "Acme"},
        {"tenant_id": "acme\n"},
        {"plugin": ""},
        {"version": "x" * 215},
        {"version": "1.0.0.0.0-"},
        {"version": "^1.0.0"},
        {"version": "v1.0.0"},
        {"plugin": "Left-Pad"},
        {"plugin": "@acme"},
    ],
)
async def test_invalid_definition_changes_nothing(
    store: MemoryStore, gauge: MemoryBurnRates, fields: dict[str, object]
) -> None:
    """An invalid definition is INVALID_ARGUMENT and opens no transaction."""
    # Tenant ids are checked by the kernel's rule, with its own error.
    error = InvalidTenantIdError if "tenant_id" in fields else InvalidSloDefinitionError
    with pytest.raises(error) as raised:
        await create(store, gauge, **fields)  # type: ignore[arg-type]

    assert raised.value.code == "INVALID_ARGUMENT"
    assert store.transactions == 0
    assert store.state.slos == {}


@pytest.mark.parametrize(
    ("short", "long", "bucket"), [(300, 3600, 10), (90, 900, 10), (45, 600, 5), (7, 60, 1)]
)
def test_bucket_size_divides_both_windows(short: int, long: int, bucket: int) -> None:
    """Buckets are at most 10 s and always fit both alerting windows a whole number of times."""
    definition = SloDefinition.with_defaults(
        slo_id="s",
        tenant_id="acme",
        plugin=PLUGIN,
        version="1.0.0",
        objective=0.99,
        short_window_seconds=short,
        long_window_seconds=long,
    )

    assert handlers.bucket_seconds_for(definition) == bucket


async def test_get_computes_burn_rates_now(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """GetSlo reports the burn rates of the windows ending now, as traffic ages out of them."""
    slo = await create(store, gauge, min_events=1000)
    await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        outcomes=[ReportedOutcome(True, 1)] * 90 + [ReportedOutcome(False, 1)] * 10,
    )
    burns = []
    for minutes in (0, 6, 60):
        clock.advance(minutes=minutes)
        got = await handlers.get_slo(
            store.uow_factory(), gauge, tenant_id="acme", slo_id=slo.slo_id
        )
        burns.append((round(got.short_window_burn_rate, 6), round(got.long_window_burn_rate, 6)))
        assert got.evaluated_at == clock.now()

    assert burns == [(10.0, 10.0), (0.0, 10.0), (0.0, 0.0)]
    assert gauge.values[slo.slo_id] == (0.0, 0.0)


async def test_get_of_another_tenants_slo_is_not_found(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """An SLO id of another tenant is NOT_FOUND, exactly like an id that does not exist."""
    theirs = await create(store, gauge, tenant_id="globex")

    for slo_id in (theirs.slo_id, "no-such-slo"):
        with pytest.raises(SloNotFoundError) as raised:
            await handlers.get_slo(store.uow_factory(), gauge, tenant_id="acme", slo_id=slo_id)
        assert raised.value.code == "NOT_FOUND"


async def test_get_without_id_is_invalid(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """GetSlo without an slo_id is INVALID_ARGUMENT, not a lookup."""
    with pytest.raises(InvalidSloDefinitionError, match="slo_id"):
        await handlers.get_slo(store.uow_factory(), gauge, tenant_id="acme", slo_id="")


async def test_a_refused_version_names_the_field_and_the_rule(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """CreateSlo takes versions by the kernel's semver rule, naming field and reason."""
    with pytest.raises(InvalidSloDefinitionError) as raised:
        await create(store, gauge, version="1.0.0.0.0-")  # type: ignore[arg-type]
    assert str(raised.value) == (
        "invalid SLO version: '1.0.0.0.0-': "
        "not an exact semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
    )
    assert raised.value.field == "version"
