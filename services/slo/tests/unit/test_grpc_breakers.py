"""BreakerService as `build` wires it: requests mapped to use cases, breakers mapped back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration

from portico.slo.v1 import breakers_pb2 as pb
from portico.slo.v1 import slo_pb2
from portico_common.clock import ManualClock
from portico_common.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.bootstrap import Dependencies, build
from portico_slo.entrypoints.grpc_api import SloServicer
from portico_slo.entrypoints.grpc_breakers import BreakerServicer, config_message, config_of

# The servicer never touches its context; the interceptor owns metadata and errors.
NO_CONTEXT: Any = None
TENANT = "acme"
PLUGIN = "@acme/p"


def seconds(value: float) -> Duration:
    out = Duration()
    out.FromTimedelta(timedelta(seconds=value))
    return out


@pytest.fixture
def apis(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> tuple[SloServicer, BreakerServicer]:
    slo, breaker = build(Dependencies(uow=store.uow_factory(), clock=clock, gauge=gauge)).servicers
    assert isinstance(slo.implementation, SloServicer)
    assert isinstance(breaker.implementation, BreakerServicer)
    return slo.implementation, breaker.implementation


async def test_configure_with_zeros_takes_resilience4j_defaults(
    apis: tuple[SloServicer, BreakerServicer],
) -> None:
    """An empty config is resilience4j's defaults, every field filled in the answer."""
    _, api = apis
    created = await api.ConfigureBreaker(
        pb.ConfigureBreakerRequest(tenant_id=TENANT, plugin=PLUGIN, version="1.0.0"), NO_CONTEXT
    )
    config = created.breaker.config
    assert created.created
    assert created.breaker.state == pb.BREAKER_STATE_CLOSED
    assert (config.sliding_window_type, config.sliding_window_size) == (
        pb.SLIDING_WINDOW_TYPE_COUNT_BASED,
        100,
    )
    assert (config.minimum_number_of_calls, config.failure_rate_threshold) == (100, 50)
    assert (
        config.slow_call_rate_threshold,
        config.permitted_number_of_calls_in_half_open_state,
    ) == (
        100,
        10,
    )
    assert config.slow_call_duration_threshold == seconds(60)
    assert config.wait_duration_in_open_state == seconds(60)
    assert config.transition_to_state_after_wait_duration == pb.BREAKER_STATE_OPEN
    assert not config.HasField("max_wait_duration_in_half_open_state")
    assert created.breaker.metrics.failure_rate == -1


def test_every_config_field_round_trips() -> None:
    """What a request says is what the breaker runs with (the mapping loses nothing)."""
    message = pb.BreakerConfig(
        sliding_window_type=pb.SLIDING_WINDOW_TYPE_TIME_BASED,
        sliding_window_size=30,
        minimum_number_of_calls=7,
        failure_rate_threshold=25.5,
        slow_call_rate_threshold=80,
        slow_call_duration_threshold=seconds(0.25),
        wait_duration_in_open_state=seconds(5),
        wait_duration_multiplier=2,
        max_wait_duration_in_open_state=seconds(40),
        permitted_number_of_calls_in_half_open_state=3,
        automatic_transition_from_open_to_half_open_enabled=True,
        max_wait_duration_in_half_open_state=seconds(9),
        transition_to_state_after_wait_duration=pb.BREAKER_STATE_CLOSED,
    )
    assert config_message(config_of(message)) == message


async def test_outcomes_reported_to_slo_open_the_breaker(
    apis: tuple[SloServicer, BreakerServicer], clock: ManualClock
) -> None:
    """ReportOutcomes feeds the breaker; GetBreaker shows it open with its window's metrics."""
    slo_api, api = apis
    configured = await api.ConfigureBreaker(
        pb.ConfigureBreakerRequest(
            tenant_id=TENANT,
            plugin=PLUGIN,
            version="1.0.0",
            config=pb.BreakerConfig(
                sliding_window_size=4,
                minimum_number_of_calls=4,
                slow_call_duration_threshold=seconds(1),
                slow_call_rate_threshold=50,
            ),
        ),
        NO_CONTEXT,
    )
    await slo_api.ReportOutcomes(
        slo_pb2.ReportOutcomesRequest(
            tenant_id=TENANT,
            plugin=PLUGIN,
            version="1.0.0",
            outcomes=[slo_pb2.Outcome(success=True, latency_ms=1500)] * 2
            + [slo_pb2.Outcome(success=True, latency_ms=10)] * 2,
        ),
        NO_CONTEXT,
    )
    got = await api.GetBreaker(
        pb.GetBreakerRequest(tenant_id=TENANT, breaker_id=configured.breaker.breaker_id),
        NO_CONTEXT,
    )
    breaker = got.breaker
    assert breaker.state == pb.BREAKER_STATE_OPEN
    assert breaker.metrics == pb.BreakerMetrics(
        failure_rate=0,
        slow_call_rate=50,
        buffered_calls=4,
        successful_calls=4,
        slow_calls=2,
        slow_successful_calls=2,
    )
    assert breaker.open_until.ToDatetime(tzinfo=clock.now().tzinfo) == clock.now() + timedelta(
        seconds=60
    )
    assert breaker.attempts == 1


async def test_force_maps_each_action_and_refuses_the_rest(
    apis: tuple[SloServicer, BreakerServicer],
) -> None:
    """Each action lands in its state; unknown, illegal or unknown-breaker requests are errors."""
    _, api = apis
    configured = await api.ConfigureBreaker(
        pb.ConfigureBreakerRequest(tenant_id=TENANT, plugin=PLUGIN, version="1.0.0"), NO_CONTEXT
    )
    breaker_id = configured.breaker.breaker_id

    async def force(action: pb.BreakerAction.ValueType, **fields: Any) -> pb.Breaker:
        answer = await api.ForceBreaker(
            pb.ForceBreakerRequest(
                tenant_id=TENANT,
                breaker_id=breaker_id,
                action=action,
                **fields,
            ),
            NO_CONTEXT,
        )
        return answer.breaker

    assert (await force(pb.BREAKER_ACTION_FORCE_OPEN)).state == pb.BREAKER_STATE_FORCED_OPEN
    assert (await force(pb.BREAKER_ACTION_HALF_OPEN)).state == pb.BREAKER_STATE_HALF_OPEN
    opened = await force(pb.BREAKER_ACTION_OPEN, open_for=seconds(90))
    assert opened.state == pb.BREAKER_STATE_OPEN
    assert (await force(pb.BREAKER_ACTION_DISABLE)).state == pb.BREAKER_STATE_DISABLED
    assert (await force(pb.BREAKER_ACTION_METRICS_ONLY)).state == pb.BREAKER_STATE_METRICS_ONLY
    with pytest.raises(FailedPreconditionError, match="METRICS_ONLY to OPEN"):
        await force(pb.BREAKER_ACTION_OPEN)
    assert (await force(pb.BREAKER_ACTION_CLOSE)).state == pb.BREAKER_STATE_CLOSED
    assert (await force(pb.BREAKER_ACTION_RESET)).state == pb.BREAKER_STATE_CLOSED
    with pytest.raises(InvalidArgumentError, match="action"):
        await force(pb.BREAKER_ACTION_UNSPECIFIED)
    with pytest.raises(NotFoundError):
        await api.ForceBreaker(
            pb.ForceBreakerRequest(
                tenant_id=TENANT, breaker_id="nope", action=pb.BREAKER_ACTION_RESET
            ),
            NO_CONTEXT,
        )


async def test_list_and_delete(apis: tuple[SloServicer, BreakerServicer]) -> None:
    """ListBreakers filters by state; DeleteBreaker removes one for good."""
    _, api = apis
    ids = []
    for version in ("1.0.0", "2.0.0"):
        answer = await api.ConfigureBreaker(
            pb.ConfigureBreakerRequest(tenant_id=TENANT, plugin=PLUGIN, version=version),
            NO_CONTEXT,
        )
        ids.append(answer.breaker.breaker_id)
    await api.ForceBreaker(
        pb.ForceBreakerRequest(
            tenant_id=TENANT, breaker_id=ids[1], action=pb.BREAKER_ACTION_DISABLE
        ),
        NO_CONTEXT,
    )
    disabled = await api.ListBreakers(
        pb.ListBreakersRequest(tenant_id=TENANT, state=pb.BREAKER_STATE_DISABLED), NO_CONTEXT
    )
    assert [b.breaker_id for b in disabled.breakers] == [ids[1]]
    await api.DeleteBreaker(
        pb.DeleteBreakerRequest(tenant_id=TENANT, breaker_id=ids[0]), NO_CONTEXT
    )
    rest = await api.ListBreakers(pb.ListBreakersRequest(tenant_id=TENANT), NO_CONTEXT)
    assert [b.breaker_id for b in rest.breakers] == [ids[1]]
    assert rest.next_page_token == ""


def test_a_bad_config_names_its_field() -> None:
    """Out-of-range values are InvalidArgument errors naming the field."""
    with pytest.raises(InvalidArgumentError, match="failure_rate_threshold"):
        config_of(pb.BreakerConfig(failure_rate_threshold=150))
    with pytest.raises(InvalidArgumentError, match="transition_to_state_after_wait_duration"):
        config_of(
            pb.BreakerConfig(transition_to_state_after_wait_duration=pb.BREAKER_STATE_HALF_OPEN)
        )
