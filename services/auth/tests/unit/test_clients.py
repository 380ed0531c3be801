"""Which tenants and scopes a client may get a token for."""

from __future__ import annotations

import pytest

from portico_auth.domain.clients import (
    PLATFORM_SCOPES,
    Client,
    validate_new_secret,
)
from portico_auth.errors import (
    InvalidClientError,
    InvalidTokenRequestError,
    ScopeNotAllowedError,
    TenantNotAllowedError,
)
from portico_common.tenants import ALL_TENANTS


@pytest.fixture
def acme_bot() -> Client:
    return Client.register(
        "acme-bot", "hash", ["acme", "acme-staging"], ["tenants.read", "slos.write"]
    )


@pytest.fixture
def admin() -> Client:
    return Client.register("portico-admin", "hash", [ALL_TENANTS], PLATFORM_SCOPES)


def test_an_allowed_tenant_and_scopes_are_granted(acme_bot: Client) -> None:
    """A client gets a grant for one of its tenants and a subset of its scopes."""
    grant = acme_bot.grant("acme-staging", ["slos.write"])
    assert (grant.client_id, grant.tenant_id, grant.scopes) == (
        "acme-bot",
        "acme-staging",
        ("slos.write",),
    )


def test_no_scopes_requested_means_all_allowed(acme_bot: Client) -> None:
    """Omitting scopes grants every scope the client is allowed, in a stable order."""
    assert acme_bot.grant("acme", []).scopes == ("slos.write", "tenants.read")


def test_repeated_scopes_are_granted_once(acme_bot: Client) -> None:
    """A scope asked for twice appears once in the grant."""
    assert acme_bot.grant("acme", ["slos.write", "slos.write"]).scopes == ("slos.write",)


def test_another_tenant_is_denied(acme_bot: Client) -> None:
    """A tenant outside the client's list is a permission error."""
    with pytest.raises(TenantNotAllowedError, match="'globex'"):
        acme_bot.grant("globex", [])


def test_a_platform_wide_token_needs_a_platform_client(acme_bot: Client) -> None:
    """Only a client allowed '*' may ask for tenant '*'."""
    with pytest.raises(TenantNotAllowedError, match="platform-wide"):
        acme_bot.grant(ALL_TENANTS, [])


def test_a_platform_client_may_act_for_any_tenant_or_all(admin: Client) -> None:
    """A client allowed '*' gets any tenant, and '*' itself."""
    assert admin.grant("globex", []).tenant_id == "globex"
    assert admin.grant(ALL_TENANTS, ["clients.register"]).tenant_id == ALL_TENANTS
    assert admin.grant(ALL_TENANTS, []).scopes == tuple(sorted(PLATFORM_SCOPES))


def test_scopes_beyond_the_allowed_are_denied(acme_bot: Client) -> None:
    """Asking for one scope too many denies the whole request and names the scope."""
    with pytest.raises(ScopeNotAllowedError, match=r"rollouts\.request"):
        acme_bot.grant("acme", ["slos.write", "rollouts.request"])


@pytest.mark.parametrize("tenant", ["", "Acme", "acme corp", "-acme", "a" * 64, "acme/other"])
def test_a_missing_or_malformed_tenant_is_invalid(acme_bot: Client, tenant: str) -> None:
    """The tenant is required and must look like a tenant id."""
    with pytest.raises(InvalidTokenRequestError, match="tenant_id"):
        acme_bot.grant(tenant, [])


@pytest.mark.parametrize("scope", ["", "has space", 'quote"d', "back\\slash"])
def test_a_malformed_scope_is_invalid(acme_bot: Client, scope: str) -> None:
    """Scopes must be RFC 6749 scope tokens (so they survive the space-separated claim)."""
    with pytest.raises(InvalidTokenRequestError, match="scope"):
        acme_bot.grant("acme", [scope])


@pytest.mark.parametrize(
    ("client_id", "tenants", "scopes"),
    [
        ("", ["acme"], []),
        ("bad id", ["acme"], []),
        ("ok", [], []),
        ("ok", ["Bad"], []),
        ("ok", ["acme"], ["a b"]),
    ],
)
def test_registration_rejects_bad_clients(
    client_id: str, tenants: list[str], scopes: list[str]
) -> None:
    """A client needs a sane id, at least one valid tenant (or '*'), and valid scopes."""
    with pytest.raises(InvalidClientError):
        Client.register(client_id, "hash", tenants, scopes)


def test_short_secrets_are_refused_for_new_clients() -> None:
    """A new client secret shorter than 16 characters is a configuration error."""
    with pytest.raises(InvalidClientError, match="16"):
        validate_new_secret("short-secret")
    validate_new_secret("x" * 16)
