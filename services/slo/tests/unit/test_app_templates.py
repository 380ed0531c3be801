"""SLO templates and EnsureVersionSlo: the SLO rollout asks for, made once."""

from __future__ import annotations

import asyncio

import pytest

from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import templates
from portico_slo.domain.durations import Duration
from portico_slo.domain.scope import ScopeKind
from portico_slo.domain.templates import SloSpec, SloTemplate
from portico_slo.domain.tiers import AlertPolicy
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import (
    InvalidObjectiveError,
    TemplateAlreadyExistsError,
    TemplateNotFoundError,
)

TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"


async def ensure(
    store: MemoryStore, gauge: MemoryBurnRates, template: str = "", rollout_id: str = ""
) -> templates.Ensured:
    return await templates.ensure_version_slo(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="2.3.0",
        template=template,
        rollout_id=rollout_id,
    )


async def test_builtin_default_then_idempotent(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Without templates a version gets the built-in 99% SLO; asking again returns the same one."""
    first = await ensure(store, gauge)
    second = await ensure(store, gauge)
    raced = await asyncio.gather(*(ensure(store, gauge) for _ in range(5)))

    assert (first.created, second.created) == (True, False)
    assert second.slo.slo_id == first.slo.slo_id
    assert {r.slo.slo_id for r in raced} == {first.slo.slo_id}
    assert first.slo.definition.name == f"default:{PLUGIN}@2.3.0"
    assert first.slo.definition.objective == 0.99
    assert len(store.state.slos) == 1


async def test_tenant_default_and_named_templates(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """The tenant's default template is used unless one is named; canaries get its canary tier."""
    strict = SloTemplate(
        "strict",
        SloSpec(objective=0.999, window=TimeWindow(Duration(28, "d")), labels=(("team", "cost"),)),
        canary=AlertPolicy.canary(long_window_seconds=30, short_window_seconds=3, min_events=50),
        is_default=True,
    )
    loose = SloTemplate("loose", SloSpec(objective=0.95))
    for template in (strict, loose):
        await templates.create_template(store.uow_factory(), tenant_id=TENANT, template=template)

    version = await ensure(store, gauge)
    named = await ensure(store, gauge, template="loose")
    canary = await ensure(store, gauge, rollout_id="r-7")

    assert (version.slo.definition.objective, version.slo.definition.team) == (0.999, "cost")
    assert version.slo.definition.burn_rate_threshold == pytest.approx(13.44)
    assert named.slo.definition.objective == 0.95
    c = canary.slo.definition
    assert (c.scope.kind, c.scope.rollout_id, c.name) == (
        ScopeKind.CANARY,
        "r-7",
        f"strict:{PLUGIN}@2.3.0~r-7",
    )
    assert [(t.name, t.short_window_seconds, t.long_window_seconds) for t in c.alerting.tiers] == [
        ("canary", 3, 30)
    ]
    assert c.min_events == 50


async def test_template_crud(store: MemoryStore) -> None:
    """Templates are made once, read, listed, replaced and deleted; unknown ones NOT_FOUND."""
    uow = store.uow_factory()
    template = SloTemplate("strict", SloSpec(objective=0.999))
    await templates.create_template(uow, tenant_id=TENANT, template=template)
    with pytest.raises(TemplateAlreadyExistsError):
        await templates.create_template(uow, tenant_id=TENANT, template=template)
    changed = SloTemplate("strict", SloSpec(objective=0.9995), is_default=True)
    await templates.update_template(uow, tenant_id=TENANT, template=changed)

    assert await templates.get_template(uow, tenant_id=TENANT, name="strict") == changed
    assert await templates.list_templates(uow, tenant_id=TENANT) == [changed]
    await templates.delete_template(uow, tenant_id=TENANT, name="strict")
    for attempt in (
        templates.get_template(uow, tenant_id=TENANT, name="strict"),
        templates.delete_template(uow, tenant_id=TENANT, name="strict"),
        templates.update_template(uow, tenant_id=TENANT, template=changed),
    ):
        with pytest.raises(TemplateNotFoundError) as raised:
            await attempt
        assert raised.value.code == "NOT_FOUND"
    # The built-in template can always be read.
    assert (
        await templates.get_template(uow, tenant_id=TENANT, name="default")
    ).spec.objective == 0.99


async def test_unknown_template_is_not_found(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Naming a template that does not exist creates nothing."""
    with pytest.raises(TemplateNotFoundError):
        await ensure(store, gauge, template="missing")
    assert store.state.slos == {}


def test_a_template_that_makes_invalid_slos_is_refused() -> None:
    """A template is checked by instantiating it: a 90% objective cannot carry the 14.4 page."""
    with pytest.raises(InvalidObjectiveError, match="page-1h"):
        SloTemplate("bad", SloSpec(objective=0.9))
    with pytest.raises(InvalidObjectiveError, match="canary"):
        SloTemplate("bad", SloSpec(objective=0.9, disabled_tiers=frozenset({"page-1h"})))
    assert SloTemplate(
        "ok",
        SloSpec(objective=0.9, disabled_tiers=frozenset({"page-1h"})),
        canary=AlertPolicy.canary(factor=5),
    )
