"""AlertingService over the in-memory store: channels keep secrets write-only, CRUD holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portico.slo.v1 import alerting_pb2 as pb
from portico_common.clock import ManualClock
from portico_common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from portico_common.grpc.tokens import Claims, current_claims
from portico_common.timestamps import to_timestamp
from portico_slo.alerting.adapters.memory import MemoryAlertingStore
from portico_slo.alerting.adapters.secrets import NoSecretBox
from portico_slo.alerting.entrypoints.grpc_api import AlertingServicer
from portico_slo.alerting.testing import AlertingWorld

NO_CONTEXT: Any = None
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def world() -> AlertingWorld:
    """Alerting over the in-memory store, starting at T0."""
    return AlertingWorld(ManualClock(T0))


@pytest.fixture
def servicer(world: AlertingWorld) -> Any:
    """The AlertingService that slo's `build` registers."""
    return world.servicer()


async def test_channel_secrets_are_never_returned(servicer: Any) -> None:
    """Create, get and list show fingerprints of the secrets, never the secrets."""
    created = await servicer.CreateChannel(
        pb.CreateChannelRequest(
            tenant_id="acme", name="chat", slack=pb.SlackConfig(webhook_url=SLACK_URL)
        ),
        NO_CONTEXT,
    )
    got = await servicer.GetChannel(
        pb.GetChannelRequest(tenant_id="acme", channel_id=created.channel.channel_id), NO_CONTEXT
    )
    listed = await servicer.ListChannels(pb.ListChannelsRequest(tenant_id="acme"), NO_CONTEXT)
    for channel in (created.channel, got.channel, listed.channels[0]):
        assert SLACK_URL not in str(channel)
        assert channel.slack.webhook_url == ""
        assert channel.kind == pb.CHANNEL_KIND_SLACK
        assert channel.send_resolved
        assert channel.secret_fingerprints["webhook_url"].startswith("hmac-sha256:")


async def test_email_settings_are_public_and_the_password_is_not(servicer: Any) -> None:
    """Host, port, sender and recipients read back; the password is a fingerprint."""
    email = pb.EmailConfig(
        to="oncall@acme.test, sre@acme.test", host="smtp.acme.test", password="hunter2hunter2"
    )
    setattr(email, "from", "portico@acme.test")  # `from` is a Python keyword
    created = await servicer.CreateChannel(
        pb.CreateChannelRequest(tenant_id="acme", name="mail", send_resolved=False, email=email),
        NO_CONTEXT,
    )
    got = created.channel
    assert (got.email.host, got.email.port, got.email.tls) == ("smtp.acme.test", 587, "starttls")
    assert getattr(got.email, "from") == "portico@acme.test"
    assert got.email.password == ""
    assert "hunter2" not in str(got)
    assert set(got.secret_fingerprints) == {"password"}
    assert not got.send_resolved


async def test_an_update_keeps_secrets_it_is_not_given(servicer: Any, world: AlertingWorld) -> None:
    """Changing the URL only keeps the signing secret; both fingerprints say which changed."""
    created = await servicer.CreateChannel(
        pb.CreateChannelRequest(
            tenant_id="acme",
            name="hook",
            webhook=pb.WebhookConfig(url="https://a.example/hook", signing_secret=SIGNING),
        ),
        NO_CONTEXT,
    )
    before = dict(created.channel.secret_fingerprints)
    updated = await servicer.UpdateChannel(
        pb.UpdateChannelRequest(
            tenant_id="acme",
            channel_id=created.channel.channel_id,
            webhook=pb.WebhookConfig(url="https://b.example/hook"),
        ),
        NO_CONTEXT,
    )
    after = dict(updated.channel.secret_fingerprints)
    assert after["signing_secret"] == before["signing_secret"]
    assert after["url"] != before["url"]
    async with world.uow("acme") as tx:
        sealed = await tx.channels.sealed_secrets("acme", created.channel.channel_id)
    assert sealed is not None
    opened = await world.box.open("acme", created.channel.channel_id, sealed)
    assert opened == {"url": "https://b.example/hook", "signing_secret": SIGNING}


async def test_channel_mistakes_are_refused_precisely(servicer: Any) -> None:
    """No config, a bad URL, a short routing key, a duplicate name, another kind on update."""
    with pytest.raises(InvalidArgumentError, match="config"):
        await servicer.CreateChannel(
            pb.CreateChannelRequest(tenant_id="acme", name="x"), NO_CONTEXT
        )
    with pytest.raises(InvalidArgumentError, match=r"slack.webhook_url: must be an absolute"):
        await servicer.CreateChannel(
            pb.CreateChannelRequest(
                tenant_id="acme", name="x", slack=pb.SlackConfig(webhook_url="ftp://x")
            ),
            NO_CONTEXT,
        )
    with pytest.raises(InvalidArgumentError, match="32 letters and digits"):
        await servicer.CreateChannel(
            pb.CreateChannelRequest(
                tenant_id="acme", name="x", pagerduty=pb.PagerDutyConfig(routing_key="short")
            ),
            NO_CONTEXT,
        )
    request = pb.CreateChannelRequest(
        tenant_id="acme", name="dup", alertmanager=pb.AlertmanagerConfig(url="http://am:9093")
    )
    created = await servicer.CreateChannel(request, NO_CONTEXT)
    with pytest.raises(AlreadyExistsError, match="'dup'"):
        await servicer.CreateChannel(request, NO_CONTEXT)
    with pytest.raises(InvalidArgumentError, match="its kind never changes"):
        await servicer.UpdateChannel(
            pb.UpdateChannelRequest(
                tenant_id="acme",
                channel_id=created.channel.channel_id,
                slack=pb.SlackConfig(webhook_url=SLACK_URL),
            ),
            NO_CONTEXT,
        )


async def test_a_channel_a_route_sends_to_cannot_be_deleted(servicer: Any) -> None:
    """Delete is refused while the tree names the channel, and works once it does not."""
    created = await servicer.CreateChannel(
        pb.CreateChannelRequest(
            tenant_id="acme", name="chat", slack=pb.SlackConfig(webhook_url=SLACK_URL)
        ),
        NO_CONTEXT,
    )
    await servicer.SetRoutingTree(
        pb.SetRoutingTreeRequest(tenant_id="acme", route=pb.Route(receiver="chat")), NO_CONTEXT
    )
    delete = pb.DeleteChannelRequest(tenant_id="acme", channel_id=created.channel.channel_id)
    with pytest.raises(FailedPreconditionError, match="receiver of the routing tree"):
        await servicer.DeleteChannel(delete, NO_CONTEXT)
    await servicer.DeleteRoutingTree(pb.DeleteRoutingTreeRequest(tenant_id="acme"), NO_CONTEXT)
    await servicer.DeleteChannel(delete, NO_CONTEXT)
    with pytest.raises(NotFoundError):
        await servicer.GetChannel(
            pb.GetChannelRequest(tenant_id="acme", channel_id=created.channel.channel_id),
            NO_CONTEXT,
        )


async def test_without_a_key_channels_cannot_be_created(world: AlertingWorld) -> None:
    """With no tenancy to get tenants' keys from, a channel is refused saying what to set."""
    servicer = AlertingServicer(MemoryAlertingStore(world.clock).uow_factory(), NoSecretBox())
    with pytest.raises(FailedPreconditionError, match="PORTICO_TENANCY_TARGET"):
        await servicer.CreateChannel(
            pb.CreateChannelRequest(
                tenant_id="acme", name="chat", slack=pb.SlackConfig(webhook_url=SLACK_URL)
            ),
            NO_CONTEXT,
        )


async def test_the_routing_tree_round_trips(servicer: Any) -> None:
    """Set then Get returns the tree as given, with who changed it."""
    await servicer.CreateChannel(
        pb.CreateChannelRequest(
            tenant_id="acme", name="chat", slack=pb.SlackConfig(webhook_url=SLACK_URL)
        ),
        NO_CONTEXT,
    )
    assert not (
        await servicer.GetRoutingTree(pb.GetRoutingTreeRequest(tenant_id="acme"), NO_CONTEXT)
    ).HasField("tree")
    route = pb.Route(
        receiver="chat",
        group_by=pb.GroupBy(labels=["slo", "tier"]),
        routes=[
            pb.Route(
                matchers=[pb.Matcher(name="team", operator=pb.MATCH_OPERATOR_REGEX, value="pay.*")],
                continue_matching=True,
            )
        ],
    )
    rule = pb.InhibitRule(
        source_matchers=[pb.Matcher(name="tier", operator=pb.MATCH_OPERATOR_EQUAL, value="1h")],
        target_matchers=[pb.Matcher(name="tier", operator=pb.MATCH_OPERATOR_EQUAL, value="6h")],
        equal=["slo"],
    )
    token = current_claims.set(
        Claims(subject="ana", tenant_id="acme", scopes=(), expires_at=0, token_id="t")
    )
    try:
        await servicer.SetRoutingTree(
            pb.SetRoutingTreeRequest(tenant_id="acme", route=route, inhibit_rules=[rule]),
            NO_CONTEXT,
        )
    finally:
        current_claims.reset(token)
    got = (
        await servicer.GetRoutingTree(pb.GetRoutingTreeRequest(tenant_id="acme"), NO_CONTEXT)
    ).tree
    assert got.route == route
    assert list(got.inhibit_rules) == [rule]
    assert got.updated_by == "ana"


async def test_a_tree_naming_an_unknown_channel_is_refused(servicer: Any) -> None:
    """Routes may only name channels the tenant has."""
    with pytest.raises(InvalidArgumentError, match="no channel named ghost"):
        await servicer.SetRoutingTree(
            pb.SetRoutingTreeRequest(tenant_id="acme", route=pb.Route(receiver="ghost")),
            NO_CONTEXT,
        )


async def test_silences_are_created_listed_updated_and_expired(
    servicer: Any, world: AlertingWorld
) -> None:
    """The creator is the caller's subject; a matcher change makes a successor."""
    matcher = pb.Matcher(name="slo", operator=pb.MATCH_OPERATOR_EQUAL, value="slo-1")
    token = current_claims.set(
        Claims(subject="svc-ana", tenant_id="acme", scopes=(), expires_at=0, token_id="t")
    )
    try:
        created = await servicer.CreateSilence(
            pb.CreateSilenceRequest(
                tenant_id="acme",
                matchers=[matcher],
                ends_at=to_timestamp(T0 + timedelta(hours=1)),
                comment="maintenance",
            ),
            NO_CONTEXT,
        )
    finally:
        current_claims.reset(token)
    assert created.silence.created_by == "svc-ana"
    assert created.silence.state == pb.SILENCE_STATE_ACTIVE
    world.clock.advance(60)
    other = pb.Matcher(name="slo", operator=pb.MATCH_OPERATOR_EQUAL, value="slo-2")
    successor = await servicer.UpdateSilence(
        pb.UpdateSilenceRequest(
            tenant_id="acme",
            silence_id=created.silence.silence_id,
            matchers=[other],
            ends_at=to_timestamp(T0 + timedelta(hours=2)),
            created_by="ana",
            comment="maintenance, other SLO",
        ),
        NO_CONTEXT,
    )
    assert successor.silence.silence_id != created.silence.silence_id
    active = await servicer.ListSilences(
        pb.ListSilencesRequest(tenant_id="acme", states=[pb.SILENCE_STATE_ACTIVE]), NO_CONTEXT
    )
    assert [s.silence_id for s in active.silences] == [successor.silence.silence_id]
    expired = await servicer.ExpireSilence(
        pb.ExpireSilenceRequest(tenant_id="acme", silence_id=successor.silence.silence_id),
        NO_CONTEXT,
    )
    assert expired.silence.state == pb.SILENCE_STATE_EXPIRED
    got = await servicer.GetSilence(
        pb.GetSilenceRequest(tenant_id="acme", silence_id=created.silence.silence_id), NO_CONTEXT
    )
    assert got.silence.state == pb.SILENCE_STATE_EXPIRED
    with pytest.raises(InvalidArgumentError, match="needs an end"):
        await servicer.CreateSilence(
            pb.CreateSilenceRequest(tenant_id="acme", matchers=[matcher], comment="c"),
            NO_CONTEXT,
        )
    with pytest.raises(NotFoundError):
        await servicer.GetSilence(
            pb.GetSilenceRequest(tenant_id="acme", silence_id="nope"), NO_CONTEXT
        )
