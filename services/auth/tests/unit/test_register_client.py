"""RegisterClient: nobody grants more than it holds; input validated; no overwrite."""

from __future__ import annotations

import re

import pytest

from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.app import clients, handlers
from portico_auth.app.clients import RegisterClient
from portico_auth.app.handlers import Policies
from portico_auth.domain.administration import Caller
from portico_auth.errors import (
    ClientExistsError,
    GrantNotAllowedError,
    InvalidClientError,
    UnknownRoleError,
)

ADMIN = "portico-admin"
ADMIN_SECRET = "admin-secret-0123456789"
BOT_SECRET = "bot-secret-0123456789"
PLATFORM = Caller(ADMIN, "*", ("platform-admin",))
ACME_ADMIN = Caller("acme-admin", "acme", ("tenant-admin",))


async def _token(store: AuthMemoryStore, client: str, secret: str, tenant: str) -> str:
    issued = await handlers.issue_service_token(
        store.open,
        Policies(),
        client_id=client,
        client_secret=secret,
        tenant_id=tenant,
        scopes=[],
        ttl_seconds=0,
    )
    return issued.token


def _command(**changes: object) -> RegisterClient:
    values: dict[str, object] = {
        "client_id": "bot",
        "client_secret": BOT_SECRET,
        "tenants": ["acme"],
        "scopes": ["installs.approve"],
        "roles": ["security-approver"],
    }
    values.update(changes)
    return RegisterClient(**values)  # type: ignore[arg-type]


async def _register(store: AuthMemoryStore, caller: Caller, **changes: object) -> object:
    return await clients.register_client(
        store.open, Policies(), caller=caller, command=_command(**changes)
    )


async def test_the_platform_admin_registers_a_client_whose_tokens_carry_its_roles(
    live_store: AuthMemoryStore,
) -> None:
    """After registration the client's tokens verify with roles == its registered roles."""
    await _register(live_store, PLATFORM)
    token = await _token(live_store, "bot", BOT_SECRET, "acme")
    claims = await handlers.verify_service_token(live_store.open, Policies().keys, token)
    assert (claims.subject, claims.roles) == ("bot", ("security-approver",))
    assert live_store.state.clients["bot"].secret_hash != BOT_SECRET


async def test_the_admin_client_has_the_platform_admin_role(live_store: AuthMemoryStore) -> None:
    """The admin client, upserted at start, carries role platform-admin in its tokens."""
    token = await _token(live_store, ADMIN, ADMIN_SECRET, "acme")
    claims = await handlers.verify_service_token(live_store.open, Policies().keys, token)
    assert claims.roles == ("platform-admin",)


@pytest.mark.parametrize("tenants", [["globex"], ["acme", "globex"], ["*"]])
async def test_a_tenant_token_registers_only_for_exactly_its_tenant(
    live_store: AuthMemoryStore, tenants: list[str]
) -> None:
    """Even the admin client, with a token for acme, gives a client acme and nothing else."""
    acme_token = Caller(ADMIN, "acme", ("platform-admin",))
    with pytest.raises(GrantNotAllowedError, match="only that tenant") as caught:
        await _register(live_store, acme_token, tenants=tenants)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "bot" not in live_store.state.clients
    await _register(live_store, acme_token, tenants=["acme"])
    assert live_store.state.clients["bot"].tenants == {"acme"}


@pytest.mark.parametrize(
    "roles", [[], ["viewer"], ["developer", "viewer"], ["tenant-admin"]], ids=str
)
async def test_a_tenant_admin_gives_roles_its_own_cover(
    live_store: AuthMemoryStore, roles: list[str]
) -> None:
    """tenant-admin may give itself and anything it includes (developer, viewer) or none."""
    await _register(live_store, ACME_ADMIN, roles=roles, scopes=[])
    assert live_store.state.clients["bot"].roles == frozenset(roles)


@pytest.mark.parametrize(
    ("roles", "beyond"),
    [
        (["security-approver"], "['security-approver']"),
        (["viewer", "platform-admin"], "['platform-admin']"),
        (["service", "release-manager"], "['release-manager', 'service']"),
    ],
)
async def test_a_tenant_admin_cannot_give_a_role_it_does_not_hold(
    live_store: AuthMemoryStore, roles: list[str], beyond: str
) -> None:
    """A role granting a permission tenant-admin lacks is PERMISSION_DENIED, named."""
    with pytest.raises(GrantNotAllowedError, match=re.escape(f"roles {beyond}")):
        await _register(live_store, ACME_ADMIN, roles=roles)
    assert "bot" not in live_store.state.clients


async def test_a_platform_token_does_not_lift_the_role_rule(live_store: AuthMemoryStore) -> None:
    """A "*" caller without platform-admin still cannot give platform-admin."""
    everywhere = Caller("ops-bot", "*", ("tenant-admin",))
    with pytest.raises(GrantNotAllowedError, match="platform-admin"):
        await _register(live_store, everywhere, roles=["platform-admin"], tenants=["globex"])
    await _register(live_store, everywhere, roles=["developer"], tenants=["globex", "acme"])
    assert live_store.state.clients["bot"].tenants == {"acme", "globex"}


async def test_unknown_roles_are_invalid_and_named(live_store: AuthMemoryStore) -> None:
    """Roles the role table lacks are INVALID_ARGUMENT naming every one; nothing is stored."""
    with pytest.raises(UnknownRoleError) as caught:
        await _register(live_store, PLATFORM, roles=["viewer", "superuser", "Root"])
    assert caught.value.code == "INVALID_ARGUMENT"
    assert str(caught.value) == (
        "unknown roles ['Root', 'superuser']: the role table defines no such role"
    )
    assert "bot" not in live_store.state.clients


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_id": "no spaces"}, "client_id"),
        ({"client_secret": "short"}, "at least 16"),
        ({"tenants": []}, "invalid allowed tenants"),
        ({"tenants": ["Not A Tenant"]}, "invalid allowed tenants"),
        ({"scopes": ["bad scope"]}, "invalid scopes"),
        ({"scopes": ["rollouts"]}, "a scope is '\\*', a permission"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_stored(
    live_store: AuthMemoryStore, changes: dict[str, object], message: str
) -> None:
    """A malformed id, short secret, or bad tenants or scopes is INVALID_ARGUMENT."""
    with pytest.raises(InvalidClientError, match=message) as caught:
        await _register(live_store, PLATFORM, **changes)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert set(live_store.state.clients) == {ADMIN}


async def test_a_duplicate_client_id_is_refused_without_overwriting(
    live_store: AuthMemoryStore,
) -> None:
    """Registering an existing id (including the admin's) is ALREADY_EXISTS; the old stays."""
    await _register(live_store, PLATFORM)
    before = live_store.state.clients["bot"]
    with pytest.raises(ClientExistsError, match="'bot' is registered already"):
        await _register(live_store, PLATFORM, roles=["platform-admin"])
    assert live_store.state.clients["bot"] == before
    with pytest.raises(ClientExistsError):
        await _register(live_store, PLATFORM, client_id=ADMIN)


METADATA = {"owner": "team-payments", "purpose": "nightly reconciliation", "ticket": "SEC-42"}


async def test_metadata_given_at_registration_is_returned_to_the_tenant_admin(
    live_store: AuthMemoryStore,
) -> None:
    """The registration answers the metadata, and GetClient and ListClients show it."""
    registered = await clients.register_client(
        live_store.open,
        Policies(),
        caller=ACME_ADMIN,
        command=_command(metadata=METADATA, roles=["developer"], scopes=[]),
    )
    assert registered.metadata == METADATA
    got = await clients.get_client(live_store.open, caller=ACME_ADMIN, client_id="bot")
    assert got.metadata == METADATA
    listed, _ = await clients.list_clients(live_store.open, caller=ACME_ADMIN, tenant_id="acme")
    assert {v.client.client_id: dict(v.metadata) for v in listed} == {"bot": METADATA}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tenants": ["*"]}, "exactly one tenant"),
        ({"tenants": ["acme", "globex"]}, "exactly one tenant"),
        ({"metadata": {"-dash-first": "x"}}, "invalid metadata keys"),
        ({"metadata": {"k" * 64: "x"}}, "invalid metadata keys"),
        ({"metadata": {"note": "x" * 1025}}, "longer than 1024"),
        ({"metadata": {f"k{i}": "x" for i in range(33)}}, "at most 32"),
        ({"metadata": {"note": "a\x00b"}}, "NUL"),
    ],
)
async def test_bad_metadata_is_refused_and_nothing_is_stored(
    live_store: AuthMemoryStore, changes: dict[str, object], message: str
) -> None:
    """Metadata on a client of no single tenant, or malformed, is INVALID_ARGUMENT; no client."""
    command = _command(**({"metadata": METADATA} | changes))
    with pytest.raises(InvalidClientError, match=message) as caught:
        await clients.register_client(live_store.open, Policies(), caller=PLATFORM, command=command)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert set(live_store.state.clients) == {ADMIN}
    assert live_store.state.client_metadata == {}
