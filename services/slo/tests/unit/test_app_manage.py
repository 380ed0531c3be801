"""Updating, deleting and listing SLOs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers
from portico_slo.app.ports import SloFilter
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.slo import SloState
from portico_slo.domain.templates import SloSpec
from portico_slo.domain.tiers import AlertPolicy
from portico_slo.errors import (
    InvalidSloDefinitionError,
    SloAlreadyExistsError,
    SloNotFoundError,
    SloUpdateRefusedError,
)

TENANT = "acme"
PLUGIN = "@acme/p"


async def test_update_rejudges_under_the_new_spec(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Loosening an SLO that fires recovers it at once; its counts and name carry over."""
    uow = store.uow_factory()
    slo = await handlers.create_slo(
        uow, gauge, tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", spec=SloSpec(objective=0.99)
    )
    await handlers.report_outcomes(
        uow,
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="1.0.0",
        outcomes=[ReportedOutcome(True, 1)] * 80 + [ReportedOutcome(False, 1)] * 20,
    )
    loose = SloSpec(objective=0.9, disabled_tiers=frozenset({"page-1h"}))
    updated = await handlers.update_slo(uow, gauge, tenant_id=TENANT, slo_id=slo.slo_id, spec=loose)

    assert updated.definition.objective == 0.9
    assert updated.definition.name == slo.definition.name
    assert updated.status.state is SloState.OK
    assert [type(e).__name__ for e, _ in store.sink.events] == ["SloViolated", "SloRecovered"]


async def test_update_refuses_windows_the_buckets_do_not_fit(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """New windows must be whole numbers of the buckets already counted (10 s here)."""
    uow = store.uow_factory()
    slo = await handlers.create_slo(
        uow, gauge, tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", objective=0.99
    )
    odd = SloSpec(
        objective=0.99,
        alerting=AlertPolicy.single(factor=10, short_window_seconds=45, long_window_seconds=905),
    )
    with pytest.raises(SloUpdateRefusedError, match="10s buckets") as raised:
        await handlers.update_slo(uow, gauge, tenant_id=TENANT, slo_id=slo.slo_id, spec=odd)
    assert raised.value.code == "FAILED_PRECONDITION"


async def test_rename_into_a_taken_name_is_refused(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """Renaming onto another SLO's name is ALREADY_EXISTS."""
    uow = store.uow_factory()
    first = await handlers.create_slo(
        uow, gauge, tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", objective=0.99
    )
    second = await handlers.create_slo(
        uow, gauge, tenant_id=TENANT, plugin=PLUGIN, version="2.0.0", objective=0.99
    )
    with pytest.raises(SloAlreadyExistsError):
        await handlers.update_slo(
            uow,
            gauge,
            tenant_id=TENANT,
            slo_id=second.slo_id,
            spec=SloSpec(objective=0.99, name=first.definition.name),
        )


async def test_delete_and_missing(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Deleting removes the SLO; deleting or updating a missing one is NOT_FOUND."""
    uow = store.uow_factory()
    slo = await handlers.create_slo(
        uow, gauge, tenant_id=TENANT, plugin=PLUGIN, version="1.0.0", objective=0.99
    )
    await handlers.delete_slo(uow, tenant_id=TENANT, slo_id=slo.slo_id)

    assert store.state.slos == {}
    with pytest.raises(SloNotFoundError):
        await handlers.delete_slo(uow, tenant_id=TENANT, slo_id=slo.slo_id)
    with pytest.raises(SloNotFoundError):
        await handlers.update_slo(
            uow, gauge, tenant_id=TENANT, slo_id=slo.slo_id, spec=SloSpec(objective=0.99)
        )


async def test_list_pages_through_every_slo(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Pages of two walk all five SLOs in name order; the last page has no token."""
    uow = store.uow_factory()
    for version in ("5.0.0", "3.0.0", "1.0.0", "4.0.0", "2.0.0"):
        await handlers.create_slo(
            uow, gauge, tenant_id=TENANT, plugin=PLUGIN, version=version, objective=0.99
        )
    seen, token = [], ""
    while True:
        page, token = await handlers.list_slos(
            uow, tenant_id=TENANT, where=SloFilter(), page_size=2, page_token=token
        )
        seen.append([s.definition.version for s in page])
        if not token:
            break

    assert seen == [["1.0.0", "2.0.0"], ["3.0.0", "4.0.0"], ["5.0.0"]]
    with pytest.raises(InvalidSloDefinitionError, match="page_size"):
        await handlers.list_slos(uow, tenant_id=TENANT, where=SloFilter(), page_size=501)


async def test_plugin_wide_slo_from_classic_fields(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """CreateSlo without a version makes a plugin-wide SLO named after the plugin."""
    slo = await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version="", objective=0.99
    )
    assert (slo.definition.version, slo.definition.name, slo.definition.scope.kind.value) == (
        "",
        PLUGIN,
        "plugin",
    )
    assert replace(slo.definition, slo_id="x").scope == slo.definition.scope
