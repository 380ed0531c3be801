"""Managing clients: who sees and changes which, roles, disable and enable, secret rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico_auth.adapters.memory import AuthMemoryStore
from portico_auth.app import clients, handlers
from portico_auth.app.clients import RegisterClient
from portico_auth.app.handlers import Policies
from portico_auth.domain.administration import Caller
from portico_auth.domain.lockout import LockoutPolicy
from portico_auth.errors import (
    ClientDisabledError,
    ClientNotFoundError,
    GrantNotAllowedError,
    InvalidClientCredentialsError,
    InvalidClientError,
    ProtectedClientError,
    TenantNotAllowedError,
    TooManyAttemptsError,
    UnknownRoleError,
)
from portico_common.clock import ManualClock

ADMIN = "portico-admin"
ADMIN_SECRET = "admin-secret-0123456789"
POLICIES = Policies(lockout=LockoutPolicy(max_failures=2))
PLATFORM = Caller(ADMIN, "*", ("platform-admin",))
ACME_ADMIN = Caller("acme-admin", "acme", ("tenant-admin",))
GLOBEX_ADMIN = Caller("globex-admin", "globex", ("tenant-admin",))


async def _register(
    store: AuthMemoryStore, client_id: str, tenants: list[str], roles: list[str]
) -> str:
    secret = f"{client_id}-secret-0123456789"
    await clients.register_client(
        store.open,
        POLICIES,
        caller=PLATFORM,
        command=RegisterClient(client_id, secret, tenants, [], roles),
    )
    return secret


async def _issue(store: AuthMemoryStore, client_id: str, secret: str) -> str:
    issued = await handlers.issue_service_token(
        store.open,
        POLICIES,
        client_id=client_id,
        client_secret=secret,
        tenant_id="acme",
        scopes=[],
        ttl_seconds=0,
    )
    return issued.token


@pytest.fixture
async def ready(store: AuthMemoryStore) -> AuthMemoryStore:
    """Manual-clock store with a key, the admin, and clients of acme, globex and both."""
    await handlers.ensure_signing_key(store.open, POLICIES.keys)
    await handlers.upsert_admin_client(store.open, ADMIN, ADMIN_SECRET)
    await _register(store, "acme-dev", ["acme"], ["developer"])
    await _register(store, "acme-ops", ["acme"], ["platform-admin"])
    await _register(store, "globex-dev", ["globex"], ["developer"])
    await _register(store, "shared-dev", ["acme", "globex"], ["developer"])
    return store


async def test_a_tenant_admin_sees_only_clients_of_exactly_its_tenant(
    ready: AuthMemoryStore,
) -> None:
    """acme's admin lists and reads acme's clients; globex's and shared ones are NOT_FOUND."""
    views, token = await clients.list_clients(ready.open, caller=ACME_ADMIN, tenant_id="")
    assert ([v.client.client_id for v in views], token) == (["acme-dev", "acme-ops"], "")
    got = await clients.get_client(ready.open, caller=ACME_ADMIN, client_id="acme-dev")
    assert got.client.roles == {"developer"}
    for other in ("globex-dev", "shared-dev", ADMIN, "nobody"):
        with pytest.raises(ClientNotFoundError, match=f"no client '{other}' in tenant 'acme'"):
            await clients.get_client(ready.open, caller=ACME_ADMIN, client_id=other)
    with pytest.raises(TenantNotAllowedError, match="cannot list the clients of 'globex'"):
        await clients.list_clients(ready.open, caller=ACME_ADMIN, tenant_id="globex")


async def test_the_platform_lists_every_client_page_by_page(ready: AuthMemoryStore) -> None:
    """Without a tenant the platform sees all clients, by id, in pages with a next token."""
    first, token = await clients.list_clients(
        ready.open, caller=PLATFORM, tenant_id="", page_size=3
    )
    rest, last = await clients.list_clients(
        ready.open, caller=PLATFORM, tenant_id="", page_size=3, page_token=token
    )
    assert [v.client.client_id for v in first + rest] == [
        "acme-dev",
        "acme-ops",
        "globex-dev",
        ADMIN,
        "shared-dev",
    ]
    assert (token, last) == ("globex-dev", "")
    globex, _ = await clients.list_clients(ready.open, caller=PLATFORM, tenant_id="globex")
    assert [v.client.client_id for v in globex] == ["globex-dev"]


async def test_roles_are_replaced_within_what_the_caller_holds(ready: AuthMemoryStore) -> None:
    """acme's admin makes acme-dev a viewer, then a tenant-admin; not a security-approver."""
    view = await clients.update_client_roles(
        ready.open,
        POLICIES,
        caller=ACME_ADMIN,
        client_id="acme-dev",
        roles=["viewer"],
        admin_client_id=ADMIN,
    )
    assert view.client.roles == {"viewer"}
    await clients.update_client_roles(
        ready.open,
        POLICIES,
        caller=ACME_ADMIN,
        client_id="acme-dev",
        roles=["tenant-admin"],
        admin_client_id=ADMIN,
    )
    with pytest.raises(GrantNotAllowedError, match="security-approver"):
        await clients.update_client_roles(
            ready.open,
            POLICIES,
            caller=ACME_ADMIN,
            client_id="acme-dev",
            roles=["security-approver"],
            admin_client_id=ADMIN,
        )
    with pytest.raises(UnknownRoleError, match="'root'"):
        await clients.update_client_roles(
            ready.open,
            POLICIES,
            caller=PLATFORM,
            client_id="acme-dev",
            roles=["root"],
            admin_client_id=ADMIN,
        )
    assert ready.state.clients["acme-dev"].roles == {"tenant-admin"}


async def test_a_stronger_client_cannot_be_managed(ready: AuthMemoryStore) -> None:
    """acme's admin can neither demote, disable nor re-key a platform-admin client of acme."""
    before = ready.state.clients["acme-ops"]
    attempts = (
        clients.update_client_roles(
            ready.open,
            POLICIES,
            caller=ACME_ADMIN,
            client_id="acme-ops",
            roles=[],
            admin_client_id=ADMIN,
        ),
        clients.set_client_disabled(
            ready.open,
            POLICIES,
            caller=ACME_ADMIN,
            client_id="acme-ops",
            disabled=True,
            admin_client_id=ADMIN,
        ),
        clients.rotate_client_secret(
            ready.open,
            POLICIES,
            caller=ACME_ADMIN,
            client_id="acme-ops",
            overlap_seconds=0,
            admin_client_id=ADMIN,
        ),
    )
    for attempt in attempts:
        with pytest.raises(GrantNotAllowedError, match="manage client 'acme-ops'"):
            await attempt
    assert ready.state.clients["acme-ops"] == before


async def test_another_tenants_client_is_not_found_for_changes(ready: AuthMemoryStore) -> None:
    """globex's admin cannot touch acme's client: it does not exist for globex."""
    with pytest.raises(ClientNotFoundError):
        await clients.set_client_disabled(
            ready.open,
            POLICIES,
            caller=GLOBEX_ADMIN,
            client_id="acme-dev",
            disabled=True,
            admin_client_id=ADMIN,
        )
    assert not ready.state.clients["acme-dev"].disabled


async def test_the_admin_client_is_managed_by_settings_only(ready: AuthMemoryStore) -> None:
    """Its roles, its state and its secret cannot be changed through the API."""
    for attempt in (
        clients.update_client_roles(
            ready.open,
            POLICIES,
            caller=PLATFORM,
            client_id=ADMIN,
            roles=[],
            admin_client_id=ADMIN,
        ),
        clients.set_client_disabled(
            ready.open,
            POLICIES,
            caller=PLATFORM,
            client_id=ADMIN,
            disabled=True,
            admin_client_id=ADMIN,
        ),
        clients.rotate_client_secret(
            ready.open,
            POLICIES,
            caller=PLATFORM,
            client_id=ADMIN,
            overlap_seconds=0,
            admin_client_id=ADMIN,
        ),
    ):
        with pytest.raises(ProtectedClientError, match="PORTICO_AUTH_ADMIN_CLIENT_SECRET") as e:
            await attempt
        assert e.value.code == "FAILED_PRECONDITION"


async def test_disable_and_enable_are_idempotent_and_enable_lifts_a_lockout(
    ready: AuthMemoryStore,
) -> None:
    """Disabled twice stays disabled and gets no token; enabling restores it and unlocks."""
    secret = "acme-dev-secret-0123456789"
    for _ in range(2):
        view = await clients.set_client_disabled(
            ready.open,
            POLICIES,
            caller=ACME_ADMIN,
            client_id="acme-dev",
            disabled=True,
            admin_client_id=ADMIN,
        )
        assert view.client.disabled
    with pytest.raises(ClientDisabledError, match="'acme-dev' is disabled") as caught:
        await _issue(ready, "acme-dev", secret)
    assert caught.value.code == "PERMISSION_DENIED"
    for _ in range(2):
        with pytest.raises(InvalidClientCredentialsError):
            await _issue(ready, "acme-dev", "wrong-secret-0123456789")
    locked = await clients.get_client(ready.open, caller=ACME_ADMIN, client_id="acme-dev")
    assert locked.locked_until is not None
    with pytest.raises(TooManyAttemptsError):
        await _issue(ready, "acme-dev", secret)
    view = await clients.set_client_disabled(
        ready.open,
        POLICIES,
        caller=ACME_ADMIN,
        client_id="acme-dev",
        disabled=False,
        admin_client_id=ADMIN,
    )
    assert (view.client.disabled, view.locked_until) == (False, None)
    assert await _issue(ready, "acme-dev", secret)


async def test_rotation_ends_the_old_secret_at_once_by_default(ready: AuthMemoryStore) -> None:
    """The new secret is returned once and works; the old one is refused immediately."""
    old = "acme-dev-secret-0123456789"
    rotated = await clients.rotate_client_secret(
        ready.open,
        POLICIES,
        caller=ACME_ADMIN,
        client_id="acme-dev",
        overlap_seconds=0,
        admin_client_id=ADMIN,
    )
    assert rotated.secret not in ready.state.clients["acme-dev"].secret_hash
    assert await _issue(ready, "acme-dev", rotated.secret)
    with pytest.raises(InvalidClientCredentialsError):
        await _issue(ready, "acme-dev", old)


async def test_rotation_with_an_overlap_keeps_the_old_secret_that_long(
    ready: AuthMemoryStore, clock: ManualClock
) -> None:
    """With overlap_seconds=600 both secrets work for ten minutes, then only the new one."""
    old = "acme-dev-secret-0123456789"
    rotated = await clients.rotate_client_secret(
        ready.open,
        POLICIES,
        caller=ACME_ADMIN,
        client_id="acme-dev",
        overlap_seconds=600,
        admin_client_id=ADMIN,
    )
    assert rotated.client.previous_secret_expires_at == clock.now() + timedelta(minutes=10)
    assert await _issue(ready, "acme-dev", old)
    assert await _issue(ready, "acme-dev", rotated.secret)
    clock.advance(minutes=10)
    with pytest.raises(InvalidClientCredentialsError):
        await _issue(ready, "acme-dev", old)
    assert await _issue(ready, "acme-dev", rotated.secret)


async def test_an_overlap_beyond_a_day_is_refused(ready: AuthMemoryStore) -> None:
    """overlap_seconds above 86400 is INVALID_ARGUMENT and the secret stays."""
    before = ready.state.clients["acme-dev"]
    with pytest.raises(InvalidClientError, match="between 0 and 86400"):
        await clients.rotate_client_secret(
            ready.open,
            POLICIES,
            caller=PLATFORM,
            client_id="acme-dev",
            overlap_seconds=86401,
            admin_client_id=ADMIN,
        )
    assert ready.state.clients["acme-dev"] == before


async def test_service_clients_come_from_settings_only(ready: AuthMemoryStore) -> None:
    """A `svc-` client is upserted from settings with role service; the API cannot touch one."""
    client = await handlers.upsert_service_client(ready.open, "rollout", "rollout-secret-012345")
    assert (client.client_id, sorted(client.roles), sorted(client.tenants)) == (
        "svc-rollout",
        ["service"],
        ["*"],
    )
    with pytest.raises(InvalidClientError, match="services' own"):
        await _register(ready, "svc-evil", ["acme"], [])
    with pytest.raises(ProtectedClientError, match="PORTICO_AUTH_SERVICE_CLIENT_SECRETS"):
        await clients.update_client_roles(
            ready.open,
            POLICIES,
            caller=PLATFORM,
            client_id="svc-rollout",
            roles=["developer"],
            admin_client_id=ADMIN,
        )
