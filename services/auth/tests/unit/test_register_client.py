"""RegisterClient: admin-only (platform token of the admin client), validated, no overwrite."""

from __future__ import annotations

import pytest

from portico_auth.adapters.memory import AuthMemoryStore, memory_store
from portico_auth.app import handlers
from portico_auth.app.handlers import Policies, RegisterClient
from portico_auth.errors import (
    ClientExistsError,
    InvalidClientError,
    InvalidTokenError,
    NotPlatformAdminError,
)

ADMIN = "portico-admin"
ADMIN_SECRET = "admin-secret-0123456789"
BOT_SECRET = "bot-secret-0123456789"


@pytest.fixture
async def auth() -> AuthMemoryStore:
    store = memory_store()  # real time: tokens are verified against the real clock
    await handlers.ensure_signing_key(store.open, Policies().keys)
    await handlers.upsert_admin_client(store.open, ADMIN, ADMIN_SECRET)
    return store


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


async def _register(store: AuthMemoryStore, bearer: str, **changes: object) -> object:
    return await handlers.register_client(
        store.open,
        Policies().keys,
        bearer=bearer,
        admin_client_id=ADMIN,
        command=_command(**changes),
    )


async def test_the_admin_registers_a_client_whose_tokens_carry_its_roles(
    auth: AuthMemoryStore,
) -> None:
    """After registration the client's tokens verify with roles == its registered roles."""
    await _register(auth, await _token(auth, ADMIN, ADMIN_SECRET, "*"))
    token = await _token(auth, "bot", BOT_SECRET, "acme")
    claims = await handlers.verify_service_token(auth.open, Policies().keys, token)
    assert (claims.subject, claims.roles) == ("bot", ("security-approver",))
    assert auth.state.clients["bot"].secret_hash != BOT_SECRET


async def test_the_admin_client_has_the_platform_admin_role(auth: AuthMemoryStore) -> None:
    """The admin client, upserted at start, carries role platform-admin in its tokens."""
    token = await _token(auth, ADMIN, ADMIN_SECRET, "acme")
    claims = await handlers.verify_service_token(auth.open, Policies().keys, token)
    assert claims.roles == ("platform-admin",)


async def test_an_admin_token_for_one_tenant_may_not_register(auth: AuthMemoryStore) -> None:
    """The admin client with a tenant-scoped (not "*") token is refused."""
    with pytest.raises(NotPlatformAdminError, match="platform \\('\\*'\\) token"):
        await _register(auth, await _token(auth, ADMIN, ADMIN_SECRET, "acme"))
    assert "bot" not in auth.state.clients


async def test_another_client_may_not_register_even_with_a_platform_token(
    auth: AuthMemoryStore,
) -> None:
    """A non-admin client allowed every tenant still cannot register clients."""
    await _register(auth, await _token(auth, ADMIN, ADMIN_SECRET, "*"), tenants=["*"])
    bot_token = await _token(auth, "bot", BOT_SECRET, "*")
    with pytest.raises(NotPlatformAdminError, match="'bot'"):
        await _register(auth, bot_token, client_id="bot-2")
    assert "bot-2" not in auth.state.clients


@pytest.mark.parametrize("bearer", ["", "not-a-jwt"])
async def test_a_missing_or_bad_token_is_unauthenticated(
    auth: AuthMemoryStore, bearer: str
) -> None:
    """No bearer token, or one that does not verify, is refused as unauthenticated."""
    with pytest.raises(InvalidTokenError):
        await _register(auth, bearer)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_id": "no spaces"}, "client_id"),
        ({"client_secret": "short"}, "at least 16"),
        ({"tenants": []}, "invalid allowed tenants"),
        ({"tenants": ["Not A Tenant"]}, "invalid allowed tenants"),
        ({"scopes": ["bad scope"]}, "invalid scopes"),
        ({"roles": ["Security Approver"]}, "invalid roles"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_stored(
    auth: AuthMemoryStore, changes: dict[str, object], message: str
) -> None:
    """A malformed id, short secret, or bad tenants, scopes or roles is INVALID_ARGUMENT."""
    admin = await _token(auth, ADMIN, ADMIN_SECRET, "*")
    with pytest.raises(InvalidClientError, match=message) as caught:
        await _register(auth, admin, **changes)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert set(auth.state.clients) == {ADMIN}


async def test_a_duplicate_client_id_is_refused_without_overwriting(
    auth: AuthMemoryStore,
) -> None:
    """Registering an existing id (including the admin's) is ALREADY_EXISTS; the old stays."""
    admin = await _token(auth, ADMIN, ADMIN_SECRET, "*")
    await _register(auth, admin)
    before = auth.state.clients["bot"]
    with pytest.raises(ClientExistsError, match="'bot' is registered already"):
        await _register(auth, admin, roles=["platform-admin"])
    assert auth.state.clients["bot"] == before
    with pytest.raises(ClientExistsError):
        await _register(auth, admin, client_id=ADMIN)
