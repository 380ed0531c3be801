"""The slo service over gRPC, as rollout's SloSource: EnsureVersionSlo, ListBreakers and
GetVersionOutcomes.

Calls carry rollout's own token when the channel is a service channel
(`portico_common.grpc.service_tokens.service_channel`). Transport failures
become SloUnavailableError (the scheduler retries; a request fails UNAVAILABLE);
a refusal (an unknown template, a bad argument) becomes SloRefusedError.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import grpc

from portico.slo.v1 import breakers_pb2 as breakers_pb
from portico.slo.v1 import breakers_pb2_grpc as breakers_grpc
from portico.slo.v1 import slo_pb2 as pb
from portico.slo.v1 import slo_pb2_grpc as pb_grpc
from portico_common.timestamps import timestamp_field, to_timestamp
from portico_rollout.app.ports import OpenBreaker, VersionSlo
from portico_rollout.domain.evidence import IntervalOutcomes, VersionOutcomes
from portico_rollout.errors import SloRefusedError, SloUnavailableError

# Codes worth a retry: the service was away, slow or busy, not saying no.
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.CANCELLED,
    }
)


# Breakers in these states let no call through: the version is cut off.
_NOT_PERMITTING = frozenset({breakers_pb.BREAKER_STATE_OPEN, breakers_pb.BREAKER_STATE_FORCED_OPEN})
# A violated SLO that does not say since when (it always should).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _error(what: str, exc: grpc.aio.AioRpcError) -> Exception:
    problem = f"{exc.code().name}: {exc.details()}"
    if exc.code() in TRANSIENT:
        return SloUnavailableError(what, problem)
    return SloRefusedError(what, problem)


def _interval(message: pb.OutcomeInterval) -> IntervalOutcomes:
    start = timestamp_field(message, "start")
    if start is None:
        raise SloUnavailableError("report outcomes", "an interval came back without its start")
    return IntervalOutcomes(
        start=start,
        total=message.total,
        errors=message.errors,
        latency_mean_ms=message.latency_mean_ms,
        latency_p50_ms=message.latency_p50_ms,
        latency_p95_ms=message.latency_p95_ms,
        latency_p99_ms=message.latency_p99_ms,
    )


class GrpcSloSource:
    """SloSource over a channel to slo; `timeout_seconds` bounds each call."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_seconds: float = 5.0) -> None:
        self._stub = pb_grpc.SloServiceStub(channel)
        self._breakers = breakers_grpc.BreakerServiceStub(channel)
        self._timeout = timeout_seconds

    async def ensure_version_slo(
        self, tenant_id: str, plugin: str, version: str, template: str
    ) -> VersionSlo:
        try:
            reply = await self._stub.EnsureVersionSlo(
                pb.EnsureVersionSloRequest(
                    tenant_id=tenant_id, plugin=plugin, version=version, template=template
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(f"ensure an SLO for {plugin}@{version}", exc) from None
        slo = reply.slo
        violated = slo.state == pb.SLO_STATE_VIOLATED
        return VersionSlo(
            slo_id=slo.slo_id,
            evaluated_at=timestamp_field(slo, "evaluated_at"),
            violated_at=(timestamp_field(slo, "violated_at") or _EPOCH) if violated else None,
            firing=tuple(t.tier for t in slo.active_tiers) if violated else (),
        )

    async def open_breakers(
        self, tenant_id: str, plugin: str, version: str
    ) -> tuple[OpenBreaker, ...]:
        found: list[OpenBreaker] = []
        token = ""
        while True:
            try:
                reply = await self._breakers.ListBreakers(
                    breakers_pb.ListBreakersRequest(
                        tenant_id=tenant_id,
                        plugin=plugin,
                        version=version,
                        page_size=500,
                        page_token=token,
                    ),
                    timeout=self._timeout,
                )
            except grpc.aio.AioRpcError as exc:
                raise _error(f"list the breakers of {plugin}@{version}", exc) from None
            found += [
                OpenBreaker(
                    b.breaker_id,
                    breakers_pb.BreakerState.Name(b.state).removeprefix("BREAKER_STATE_"),
                    timestamp_field(b, "state_since"),
                )
                for b in reply.breakers
                if b.state in _NOT_PERMITTING
            ]
            token = reply.next_page_token
            if not token:
                return tuple(found)

    async def outcomes(
        self,
        tenant_id: str,
        plugin: str,
        versions: Sequence[str],
        *,
        start: datetime,
        end: datetime,
        step_seconds: int,
    ) -> list[VersionOutcomes]:
        try:
            reply = await self._stub.GetVersionOutcomes(
                pb.GetVersionOutcomesRequest(
                    tenant_id=tenant_id,
                    plugin=plugin,
                    versions=list(versions),
                    start=to_timestamp(start),
                    end=to_timestamp(end),
                    step_seconds=step_seconds,
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(f"report the outcomes of {plugin}", exc) from None
        return [
            VersionOutcomes(
                version=s.version,
                total=s.summary.total,
                errors=s.summary.errors,
                latency_p95_ms=s.summary.latency_p95_ms,
                latency_p99_ms=s.summary.latency_p99_ms,
                burn_rate=s.burn_rate,
                slo_id=s.slo_id,
                intervals=tuple(_interval(i) for i in s.intervals),
            )
            for s in reply.series
        ]


class NoSloSource:
    """What rollout uses when no slo target is configured: every call is unavailable."""

    async def ensure_version_slo(
        self,
        tenant_id: str,  # noqa: ARG002 - the port's signature; nothing is asked
        plugin: str,
        version: str,
        template: str,  # noqa: ARG002 - the port's signature; nothing is asked
    ) -> VersionSlo:
        raise SloUnavailableError(
            f"ensure an SLO for {plugin}@{version}", "no slo target is configured"
        )

    async def open_breakers(
        self,
        tenant_id: str,  # noqa: ARG002 - the port's signature; nothing is asked
        plugin: str,
        version: str,
    ) -> tuple[OpenBreaker, ...]:
        raise SloUnavailableError(
            f"list the breakers of {plugin}@{version}", "no slo target is configured"
        )

    async def outcomes(
        self,
        tenant_id: str,  # noqa: ARG002 - the port's signature; nothing is asked
        plugin: str,
        versions: Sequence[str],  # noqa: ARG002 - the port's signature; nothing is asked
        *,
        start: datetime,  # noqa: ARG002 - the port's signature; nothing is asked
        end: datetime,  # noqa: ARG002 - the port's signature; nothing is asked
        step_seconds: int,  # noqa: ARG002 - the port's signature; nothing is asked
    ) -> list[VersionOutcomes]:
        raise SloUnavailableError(f"report the outcomes of {plugin}", "no slo target is configured")
