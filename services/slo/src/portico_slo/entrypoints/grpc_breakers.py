"""gRPC entrypoint of the circuit breakers: map the request, call the use case, map back."""

from __future__ import annotations

from datetime import timedelta

from google.protobuf.duration_pb2 import Duration

from portico.slo.v1 import breakers_pb2 as pb
from portico.slo.v1 import breakers_pb2_grpc as pb_grpc
from portico_common.clock import Clock
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.timestamps import to_timestamp
from portico_slo.app import breakers
from portico_slo.app.breakers import ForceAction
from portico_slo.app.breakers_ports import BreakerFilter, BreakerRecord
from portico_slo.app.ports import UnitOfWorkFactory
from portico_slo.domain import breakers_config as defaults
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState, WindowType
from portico_slo.errors import InvalidBreakerError

STATES = {
    BreakerState.CLOSED: pb.BREAKER_STATE_CLOSED,
    BreakerState.OPEN: pb.BREAKER_STATE_OPEN,
    BreakerState.HALF_OPEN: pb.BREAKER_STATE_HALF_OPEN,
    BreakerState.DISABLED: pb.BREAKER_STATE_DISABLED,
    BreakerState.FORCED_OPEN: pb.BREAKER_STATE_FORCED_OPEN,
    BreakerState.METRICS_ONLY: pb.BREAKER_STATE_METRICS_ONLY,
}
STATE_OF = {value: state for state, value in STATES.items()}
WINDOWS = {
    WindowType.COUNT_BASED: pb.SLIDING_WINDOW_TYPE_COUNT_BASED,
    WindowType.TIME_BASED: pb.SLIDING_WINDOW_TYPE_TIME_BASED,
}
WINDOW_OF = {value: kind for kind, value in WINDOWS.items()}
ACTIONS = {
    pb.BREAKER_ACTION_OPEN: ForceAction.OPEN,
    pb.BREAKER_ACTION_FORCE_OPEN: ForceAction.FORCE_OPEN,
    pb.BREAKER_ACTION_CLOSE: ForceAction.CLOSE,
    pb.BREAKER_ACTION_HALF_OPEN: ForceAction.HALF_OPEN,
    pb.BREAKER_ACTION_DISABLE: ForceAction.DISABLE,
    pb.BREAKER_ACTION_METRICS_ONLY: ForceAction.METRICS_ONLY,
    pb.BREAKER_ACTION_RESET: ForceAction.RESET,
}


def _duration(message: Duration, present: bool, default: timedelta) -> timedelta:
    return message.ToTimedelta() if present else default


def _proto_duration(value: timedelta) -> Duration:
    out = Duration()
    out.FromTimedelta(value)
    return out


def config_of(message: pb.BreakerConfig) -> BreakerConfig:
    """A requested configuration; zero and unset fields take resilience4j's defaults."""
    after_wait = defaults.DEFAULT_TRANSITION_TO_STATE_AFTER_WAIT_DURATION
    if message.transition_to_state_after_wait_duration:
        if message.transition_to_state_after_wait_duration not in STATE_OF:
            raise InvalidBreakerError("transition_to_state_after_wait_duration", "unknown state")
        after_wait = STATE_OF[message.transition_to_state_after_wait_duration]
    if message.sliding_window_type and message.sliding_window_type not in WINDOW_OF:
        raise InvalidBreakerError("sliding_window_type", "unknown window type")
    return BreakerConfig(
        sliding_window_type=WINDOW_OF.get(
            message.sliding_window_type, defaults.DEFAULT_SLIDING_WINDOW_TYPE
        ),
        sliding_window_size=message.sliding_window_size or defaults.DEFAULT_SLIDING_WINDOW_SIZE,
        minimum_number_of_calls=(
            message.minimum_number_of_calls or defaults.DEFAULT_MINIMUM_NUMBER_OF_CALLS
        ),
        failure_rate_threshold=(
            message.failure_rate_threshold or defaults.DEFAULT_FAILURE_RATE_THRESHOLD
        ),
        slow_call_rate_threshold=(
            message.slow_call_rate_threshold or defaults.DEFAULT_SLOW_CALL_RATE_THRESHOLD
        ),
        slow_call_duration_threshold=_duration(
            message.slow_call_duration_threshold,
            message.HasField("slow_call_duration_threshold"),
            defaults.DEFAULT_SLOW_CALL_DURATION_THRESHOLD,
        ),
        wait_duration_in_open_state=_duration(
            message.wait_duration_in_open_state,
            message.HasField("wait_duration_in_open_state"),
            defaults.DEFAULT_WAIT_DURATION_IN_OPEN_STATE,
        ),
        wait_duration_multiplier=message.wait_duration_multiplier or 1.0,
        max_wait_duration_in_open_state=_duration(
            message.max_wait_duration_in_open_state,
            message.HasField("max_wait_duration_in_open_state"),
            timedelta(0),
        ),
        permitted_number_of_calls_in_half_open_state=(
            message.permitted_number_of_calls_in_half_open_state
            or defaults.DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN_STATE
        ),
        automatic_transition_from_open_to_half_open_enabled=(
            message.automatic_transition_from_open_to_half_open_enabled
        ),
        max_wait_duration_in_half_open_state=_duration(
            message.max_wait_duration_in_half_open_state,
            message.HasField("max_wait_duration_in_half_open_state"),
            defaults.DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE,
        ),
        transition_to_state_after_wait_duration=after_wait,
    )


def config_message(config: BreakerConfig) -> pb.BreakerConfig:
    """The configuration in force, every field filled in."""
    message = pb.BreakerConfig(
        sliding_window_type=WINDOWS[config.sliding_window_type],
        sliding_window_size=config.sliding_window_size,
        minimum_number_of_calls=config.minimum_number_of_calls,
        failure_rate_threshold=config.failure_rate_threshold,
        slow_call_rate_threshold=config.slow_call_rate_threshold,
        slow_call_duration_threshold=_proto_duration(config.slow_call_duration_threshold),
        wait_duration_in_open_state=_proto_duration(config.wait_duration_in_open_state),
        wait_duration_multiplier=config.wait_duration_multiplier,
        permitted_number_of_calls_in_half_open_state=(
            config.permitted_number_of_calls_in_half_open_state
        ),
        automatic_transition_from_open_to_half_open_enabled=(
            config.automatic_transition_from_open_to_half_open_enabled
        ),
        transition_to_state_after_wait_duration=STATES[
            config.transition_to_state_after_wait_duration
        ],
    )
    if config.max_wait_duration_in_open_state:
        message.max_wait_duration_in_open_state.CopyFrom(
            _proto_duration(config.max_wait_duration_in_open_state)
        )
    if config.max_wait_duration_in_half_open_state:
        message.max_wait_duration_in_half_open_state.CopyFrom(
            _proto_duration(config.max_wait_duration_in_half_open_state)
        )
    return message


def breaker_to_proto(record: BreakerRecord, clock: Clock) -> pb.Breaker:
    """A breaker with its window's metrics as of now (a time window slides without calls)."""
    b = record.breaker
    metrics = b.metrics(clock.now())
    window = metrics.window
    message = pb.Breaker(
        breaker_id=b.breaker_id,
        tenant_id=b.tenant_id,
        plugin=b.plugin,
        version=b.version,
        state=STATES[b.state],
        state_since=to_timestamp(b.since),
        config=config_message(b.config),
        metrics=pb.BreakerMetrics(
            failure_rate=metrics.failure_rate,
            slow_call_rate=metrics.slow_call_rate,
            buffered_calls=window.calls,
            successful_calls=window.successful,
            failed_calls=window.failed,
            slow_calls=window.slow,
            slow_successful_calls=window.slow_successful,
            slow_failed_calls=window.slow_failed,
            not_permitted_calls=metrics.not_permitted_calls,
        ),
        attempts=b.attempts,
        slo_id=b.slo_id,
        created_at=to_timestamp(record.created_at),
        updated_at=to_timestamp(record.updated_at),
    )
    if b.open_until is not None:
        message.open_until.CopyFrom(to_timestamp(b.open_until))
    if b.half_open_until is not None:
        message.half_open_until.CopyFrom(to_timestamp(b.half_open_until))
    return message


def _actor() -> str:
    claims = current_claims.get()
    return claims.subject if claims is not None else ""


class BreakerServicer(pb_grpc.BreakerServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def GetBreaker(
        self, request: pb.GetBreakerRequest, context: Context
    ) -> pb.GetBreakerResponse:
        record = await breakers.get_breaker(
            self._uow, tenant_id=request.tenant_id, breaker_id=request.breaker_id
        )
        return pb.GetBreakerResponse(breaker=breaker_to_proto(record, self._clock))

    async def ListBreakers(
        self, request: pb.ListBreakersRequest, context: Context
    ) -> pb.ListBreakersResponse:
        if request.state and request.state not in STATE_OF:
            raise InvalidBreakerError("state", "unknown state")
        page, token = await breakers.list_breakers(
            self._uow,
            tenant_id=request.tenant_id,
            where=BreakerFilter(
                plugin=request.plugin, version=request.version, state=STATE_OF.get(request.state)
            ),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListBreakersResponse(
            breakers=[breaker_to_proto(r, self._clock) for r in page], next_page_token=token
        )

    async def ConfigureBreaker(
        self, request: pb.ConfigureBreakerRequest, context: Context
    ) -> pb.ConfigureBreakerResponse:
        record, created = await breakers.configure_breaker(
            self._uow,
            tenant_id=request.tenant_id,
            plugin=request.plugin,
            version=request.version,
            config=config_of(request.config),
        )
        return pb.ConfigureBreakerResponse(
            breaker=breaker_to_proto(record, self._clock), created=created
        )

    async def ForceBreaker(
        self, request: pb.ForceBreakerRequest, context: Context
    ) -> pb.ForceBreakerResponse:
        action = ACTIONS.get(request.action)
        if action is None:
            raise InvalidBreakerError("action", "say what to do: OPEN, FORCE_OPEN, CLOSE, ...")
        record = await breakers.force_breaker(
            self._uow,
            tenant_id=request.tenant_id,
            breaker_id=request.breaker_id,
            action=action,
            actor=_actor(),
            note=request.note,
            open_for=request.open_for.ToTimedelta() if request.HasField("open_for") else None,
        )
        return pb.ForceBreakerResponse(breaker=breaker_to_proto(record, self._clock))

    async def DeleteBreaker(
        self, request: pb.DeleteBreakerRequest, context: Context
    ) -> pb.DeleteBreakerResponse:
        await breakers.delete_breaker(
            self._uow, tenant_id=request.tenant_id, breaker_id=request.breaker_id
        )
        return pb.DeleteBreakerResponse()
