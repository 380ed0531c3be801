"""Auth's use cases against in-memory state: keys, the admin client, tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.app import handlers
from portico_auth.app.handlers import BAD_CREDENTIALS, Policies
from portico_auth.domain.clients import PLATFORM_SCOPES, Client
from portico_auth.domain.credentials import hash_secret
from portico_auth.domain.signing_keys import KeyPolicy
from portico_auth.domain.tokens import IssuedToken
from portico_auth.errors import (
    InvalidClientCredentialsError,
    InvalidClientError,
    InvalidTokenError,
    InvalidTokenRequestError,
    TenantNotAllowedError,
)
from portico_common.clock import ManualClock

ADMIN_SECRET = "admin-secret-0123456789"
POLICIES = Policies()


async def _issue(store: AuthMemoryStore, **changes: object) -> IssuedToken:
    request: dict[str, object] = {
        "client_id": "portico-admin",
        "client_secret": ADMIN_SECRET,
        "tenant_id": "acme",
        "scopes": [],
        "ttl_seconds": 0,
    }
    request.update(changes)
    return await handlers.issue_service_token(store.open, POLICIES, **request)  # type: ignore[arg-type]


@pytest.fixture
async def ready(store: AuthMemoryStore) -> AuthMemoryStore:
    """A store as bootstrap leaves it: a signing key and the admin client."""
    await handlers.ensure_signing_key(store.open, POLICIES.keys)
    await handlers.upsert_admin_client(store.open, "portico-admin", ADMIN_SECRET)
    return store


async def test_the_first_start_creates_one_key(store: AuthMemoryStore) -> None:
    """Ensuring a key on empty state creates one; doing it again keeps that one."""
    first = await handlers.ensure_signing_key(store.open, POLICIES.keys)
    again = await handlers.ensure_signing_key(store.open, POLICIES.keys)
    assert first == again
    assert list(store.state.keys) == [first.kid]


async def test_a_due_key_gets_a_successor_and_a_retired_one_is_deleted(
    store: AuthMemoryStore, clock: ManualClock
) -> None:
    """Rotation adds a successor when due, and deletes a key once it has left the JWKS."""
    policy = KeyPolicy()
    old = await handlers.ensure_signing_key(store.open, policy)
    clock.set(old.not_after - policy.rotate_before)
    new = await handlers.ensure_signing_key(store.open, policy)
    assert new != old
    assert [k.kid for k in await handlers.get_jwks(store.open, policy)] == [new.kid, old.kid]
    clock.set(old.not_after + policy.overlap)
    assert await handlers.ensure_signing_key(store.open, policy) == new
    assert list(store.state.keys) == [new.kid]


async def test_the_admin_client_gets_every_tenant_and_scope(ready: AuthMemoryStore) -> None:
    """The admin client is stored with tenants '*', all platform scopes, and a hashed secret."""
    admin = ready.state.clients["portico-admin"]
    assert admin.tenants == frozenset({"*"})
    assert admin.scopes == frozenset(PLATFORM_SCOPES)
    assert ADMIN_SECRET not in admin.secret_hash


async def test_a_new_admin_secret_replaces_the_old(ready: AuthMemoryStore) -> None:
    """After the admin secret changes, the old one no longer gets a token."""
    await handlers.upsert_admin_client(ready.open, "portico-admin", "a-brand-new-secret-42")
    assert (await _issue(ready, client_secret="a-brand-new-secret-42")).token
    with pytest.raises(InvalidClientCredentialsError):
        await _issue(ready)


async def test_a_weak_admin_secret_is_refused(store: AuthMemoryStore) -> None:
    """An admin secret shorter than 16 characters is refused and nothing is stored."""
    with pytest.raises(InvalidClientError):
        await handlers.upsert_admin_client(store.open, "portico-admin", "admin")
    assert store.state.clients == {}


async def test_valid_credentials_get_a_token_that_verifies(ready: AuthMemoryStore) -> None:
    """A token issued to the admin verifies against auth's own published keys."""
    issued = await _issue(ready, scopes=["tenants.read"], ttl_seconds=120)
    claims = await handlers.verify_service_token(ready.open, POLICIES.keys, issued.token)
    assert (claims.subject, claims.tenant_id, claims.scopes) == (
        "portico-admin",
        "acme",
        ("tenants.read",),
    )
    assert issued.ttl_seconds == 120


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_secret": "wrong-secret-0123456789"},
        {"client_secret": ""},
        {"client_id": "nobody"},
        {"client_id": ""},
    ],
)
async def test_bad_credentials_get_one_generic_answer(
    ready: AuthMemoryStore, credentials: dict[str, str]
) -> None:
    """Unknown client, wrong or empty secret: the same message, no hint which part was wrong."""
    with pytest.raises(InvalidClientCredentialsError) as caught:
        await _issue(ready, **credentials)
    assert str(caught.value) == BAD_CREDENTIALS == "invalid client credentials"


async def test_a_client_cannot_get_a_token_for_another_tenant(ready: AuthMemoryStore) -> None:
    """A client limited to tenant acme is denied a token for globex, or for '*'."""
    secret = "acme-bot-secret-0123456789"
    client = Client.register("acme-bot", hash_secret(secret), ["acme"], ["tenants.read"])
    ready.state.clients[client.client_id] = client
    assert (await _issue(ready, client_id="acme-bot", client_secret=secret)).token
    for tenant in ("globex", "*"):
        with pytest.raises(TenantNotAllowedError):
            await _issue(ready, client_id="acme-bot", client_secret=secret, tenant_id=tenant)


async def test_a_token_request_without_tenant_is_invalid(ready: AuthMemoryStore) -> None:
    """tenant_id is required."""
    with pytest.raises(InvalidTokenRequestError, match="tenant_id is required"):
        await _issue(ready, tenant_id="")


@pytest.mark.parametrize(("requested", "granted"), [(0, 900), (30, 30), (100_000, 3600)])
async def test_the_lifetime_follows_the_policy(
    ready: AuthMemoryStore, clock: ManualClock, requested: int, granted: int
) -> None:
    """The token's lifetime is the default for 0 and never more than the maximum."""
    issued = await _issue(ready, ttl_seconds=requested)
    assert issued.ttl_seconds == granted
    assert issued.expires_at == clock.now() + timedelta(seconds=granted)


async def test_issuing_without_a_signing_key_creates_one(store: AuthMemoryStore) -> None:
    """If no key signs now (rotation fell behind), issuing creates one rather than failing."""
    await handlers.upsert_admin_client(store.open, "portico-admin", ADMIN_SECRET)
    assert store.state.keys == {}
    await _issue(store)
    assert len(store.state.keys) == 1


async def test_verification_reports_why_a_token_fails(
    ready: AuthMemoryStore, clock: ManualClock
) -> None:
    """An expired token is refused with the reason."""
    issued = await _issue(ready, ttl_seconds=60)
    clock.advance(seconds=120)
    with pytest.raises(InvalidTokenError, match="expired"):
        await handlers.verify_service_token(ready.open, POLICIES.keys, issued.token)


async def test_auth_signs_its_own_service_token_without_a_secret(store: AuthMemoryStore) -> None:
    """issue_own_token: svc-auth, every tenant, role service, verifying against auth's keys."""
    issued = await handlers.issue_own_token(store.open, POLICIES)
    claims = await handlers.verify_service_token(store.open, POLICIES.keys, issued.token)
    assert (claims.subject, claims.tenant_id, claims.roles) == ("svc-auth", "*", ("service",))
    assert issued.ttl_seconds == POLICIES.tokens.ttl_for(0)
