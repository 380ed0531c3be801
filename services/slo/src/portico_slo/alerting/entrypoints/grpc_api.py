"""gRPC entrypoint of alerting: map the request, call the use case, map back."""

from __future__ import annotations

from portico.slo.v1 import alerting_pb2 as pb
from portico.slo.v1 import alerting_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.timestamps import timestamp_field
from portico_slo.alerting.app import channels, queries, routing, silences
from portico_slo.alerting.app.ports import AlertingUowFactory, SecretBox
from portico_slo.alerting.domain.silences import SilenceSpec
from portico_slo.alerting.entrypoints import mapping
from portico_slo.alerting.errors import InvalidChannelError, InvalidSilenceError


def actor(named: str = "") -> str:
    """Who acts: the token's subject, with the name a request gives beside it.

    A name in a request is never trusted alone when there is a token.
    """
    claims = current_claims.get()
    subject = claims.subject if claims is not None else ""
    if not named or subject in ("", named):
        return named or subject
    return f"{named} (via {subject})"


def _spec(request: pb.CreateSilenceRequest | pb.UpdateSilenceRequest) -> SilenceSpec:
    ends_at = timestamp_field(request, "ends_at")
    if ends_at is None:
        raise InvalidSilenceError("ends_at", "a silence needs an end")
    return SilenceSpec(
        matchers=mapping.matchers_of(request.matchers),
        starts_at=timestamp_field(request, "starts_at"),
        ends_at=ends_at,
        created_by=actor(request.created_by),
        comment=request.comment,
    )


class AlertingServicer(pb_grpc.AlertingServiceServicer):
    def __init__(self, uow: AlertingUowFactory, box: SecretBox) -> None:
        self._uow = uow
        self._box = box

    async def GetRoutingTree(
        self, request: pb.GetRoutingTreeRequest, context: Context
    ) -> pb.GetRoutingTreeResponse:
        record = await routing.get_routing(self._uow, tenant_id=request.tenant_id)
        if record is None:
            return pb.GetRoutingTreeResponse()
        return pb.GetRoutingTreeResponse(tree=mapping.routing_to_proto(record))

    async def SetRoutingTree(
        self, request: pb.SetRoutingTreeRequest, context: Context
    ) -> pb.SetRoutingTreeResponse:
        record = await routing.set_routing(
            self._uow,
            tenant_id=request.tenant_id,
            root=mapping.route_of(request.route),
            rules=[mapping.rule_of(r) for r in request.inhibit_rules],
            default_inhibition_disabled=request.default_inhibition_disabled,
            updated_by=actor(),
        )
        return pb.SetRoutingTreeResponse(tree=mapping.routing_to_proto(record))

    async def DeleteRoutingTree(
        self, request: pb.DeleteRoutingTreeRequest, context: Context
    ) -> pb.DeleteRoutingTreeResponse:
        deleted = await routing.delete_routing(self._uow, tenant_id=request.tenant_id)
        return pb.DeleteRoutingTreeResponse(deleted=deleted)

    async def CreateChannel(
        self, request: pb.CreateChannelRequest, context: Context
    ) -> pb.CreateChannelResponse:
        kind, settings, secrets = mapping.require_config(request)
        channel = await channels.create_channel(
            self._uow,
            self._box,
            tenant_id=request.tenant_id,
            name=request.name,
            kind=kind.value,
            send_resolved=request.send_resolved if request.HasField("send_resolved") else True,
            settings=settings,
            secrets=secrets,
        )
        return pb.CreateChannelResponse(channel=mapping.channel_to_proto(channel))

    async def GetChannel(
        self, request: pb.GetChannelRequest, context: Context
    ) -> pb.GetChannelResponse:
        channel = await channels.get_channel(
            self._uow, tenant_id=request.tenant_id, channel_id=request.channel_id
        )
        return pb.GetChannelResponse(channel=mapping.channel_to_proto(channel))

    async def ListChannels(
        self, request: pb.ListChannelsRequest, context: Context
    ) -> pb.ListChannelsResponse:
        found = await channels.list_channels(self._uow, tenant_id=request.tenant_id)
        return pb.ListChannelsResponse(channels=[mapping.channel_to_proto(c) for c in found])

    async def UpdateChannel(
        self, request: pb.UpdateChannelRequest, context: Context
    ) -> pb.UpdateChannelResponse:
        config = mapping.channel_config(request)
        if config is not None:
            current = await channels.get_channel(
                self._uow, tenant_id=request.tenant_id, channel_id=request.channel_id
            )
            if config[0] is not current.kind:
                raise InvalidChannelError(
                    "config", f"the channel is a {current.kind} channel; its kind never changes"
                )
        channel = await channels.update_channel(
            self._uow,
            self._box,
            tenant_id=request.tenant_id,
            channel_id=request.channel_id,
            send_resolved=request.send_resolved if request.HasField("send_resolved") else None,
            settings=None if config is None else config[1],
            secrets={} if config is None else config[2],
        )
        return pb.UpdateChannelResponse(channel=mapping.channel_to_proto(channel))

    async def DeleteChannel(
        self, request: pb.DeleteChannelRequest, context: Context
    ) -> pb.DeleteChannelResponse:
        await channels.delete_channel(
            self._uow, tenant_id=request.tenant_id, channel_id=request.channel_id
        )
        return pb.DeleteChannelResponse()

    async def CreateSilence(
        self, request: pb.CreateSilenceRequest, context: Context
    ) -> pb.CreateSilenceResponse:
        silence, state = await silences.add_silence(
            self._uow, tenant_id=request.tenant_id, spec=_spec(request)
        )
        return pb.CreateSilenceResponse(silence=mapping.silence_to_proto(silence, state))

    async def GetSilence(
        self, request: pb.GetSilenceRequest, context: Context
    ) -> pb.GetSilenceResponse:
        silence, state = await silences.get_silence(
            self._uow, tenant_id=request.tenant_id, silence_id=request.silence_id
        )
        return pb.GetSilenceResponse(silence=mapping.silence_to_proto(silence, state))

    async def ListSilences(
        self, request: pb.ListSilencesRequest, context: Context
    ) -> pb.ListSilencesResponse:
        states = frozenset(mapping.SILENCE_STATES_IN[s] for s in request.states if s)
        found = await silences.list_silences(self._uow, tenant_id=request.tenant_id, states=states)
        return pb.ListSilencesResponse(
            silences=[mapping.silence_to_proto(s, state) for s, state in found]
        )

    async def UpdateSilence(
        self, request: pb.UpdateSilenceRequest, context: Context
    ) -> pb.UpdateSilenceResponse:
        silence, state = await silences.change_silence(
            self._uow,
            tenant_id=request.tenant_id,
            silence_id=request.silence_id,
            spec=_spec(request),
        )
        return pb.UpdateSilenceResponse(silence=mapping.silence_to_proto(silence, state))

    async def ExpireSilence(
        self, request: pb.ExpireSilenceRequest, context: Context
    ) -> pb.ExpireSilenceResponse:
        silence, state = await silences.expire(
            self._uow, tenant_id=request.tenant_id, silence_id=request.silence_id
        )
        return pb.ExpireSilenceResponse(silence=mapping.silence_to_proto(silence, state))

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: Context
    ) -> pb.ListAlertsResponse:
        views = await queries.list_alerts(self._uow, tenant_id=request.tenant_id)
        return pb.ListAlertsResponse(alerts=[mapping.alert_to_proto(v) for v in views])

    async def ListAlertHistory(
        self, request: pb.ListAlertHistoryRequest, context: Context
    ) -> pb.ListAlertHistoryResponse:
        entries = await queries.alert_history(
            self._uow, tenant_id=request.tenant_id, limit=request.limit
        )
        return pb.ListAlertHistoryResponse(entries=[mapping.history_to_proto(e) for e in entries])

    async def ListDeliveries(
        self, request: pb.ListDeliveriesRequest, context: Context
    ) -> pb.ListDeliveriesResponse:
        found = await queries.list_deliveries(
            self._uow,
            tenant_id=request.tenant_id,
            channel_id=request.channel_id,
            limit=request.limit,
        )
        return pb.ListDeliveriesResponse(deliveries=[mapping.delivery_to_proto(d) for d in found])
