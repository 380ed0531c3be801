"""Who may register and manage which clients: nobody grants more than they hold.

The kernel's interceptor has already checked the caller's permission
(clients.register, clients.write, clients.read); these rules decide on the
client in question:

- a platform caller (token tenant "*") may act on clients of any tenants;
  any other caller only on clients of exactly its own tenant, and may register
  only such clients (never "*", never a second tenant);
- the roles given must be covered by the caller's own roles
  (`RolePolicy.holds_all`), and so must the roles a managed client already
  holds: taking over a stronger client (its secret, its roles) is granting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portico_auth.domain.clients import Client
from portico_auth.errors import ClientNotFoundError, GrantNotAllowedError
from portico_common.authz.policy import RolePolicy
from portico_common.tenants import ALL_TENANTS


@dataclass(frozen=True)
class Caller:
    """The verified identity behind a management request (from its token's claims)."""

    subject: str
    tenant_id: str
    roles: tuple[str, ...]

    @property
    def platform(self) -> bool:
        return self.tenant_id == ALL_TENANTS


def check_may_assign(
    caller: Caller, tenants: Iterable[str], roles: Iterable[str], policy: RolePolicy
) -> None:
    """Refuses tenants or roles the caller may not give a client (GrantNotAllowedError)."""
    wanted_tenants = sorted(set(tenants))
    if not caller.platform and wanted_tenants != [caller.tenant_id]:
        raise GrantNotAllowedError(
            f"a token for tenant {caller.tenant_id!r} may give a client only that tenant"
            f" (tenants [{caller.tenant_id!r}]), not {wanted_tenants}"
        )
    _check_roles_held(caller, roles, policy, "give")


def visible_to(caller: Caller, client: Client) -> bool:
    """Whether the caller's tenant may see the client at all."""
    return caller.platform or client.tenants == frozenset({caller.tenant_id})


def check_may_see(caller: Caller, client: Client | None, client_id: str) -> Client:
    """The client, or ClientNotFoundError when it is absent or another tenant's."""
    if client is None or not visible_to(caller, client):
        where = "" if caller.platform else f" in tenant {caller.tenant_id!r}"
        raise ClientNotFoundError(f"no client {client_id!r}{where}")
    return client


def check_may_manage(
    caller: Caller, client: Client | None, client_id: str, policy: RolePolicy
) -> Client:
    """The client if the caller may change it: visible, and no stronger than the caller."""
    found = check_may_see(caller, client, client_id)
    _check_roles_held(caller, found.roles, policy, f"manage client {client_id!r} with")
    return found


def _check_roles_held(caller: Caller, roles: Iterable[str], policy: RolePolicy, what: str) -> None:
    beyond = sorted(r for r in set(roles) if not policy.holds_all(caller.roles, [r]))
    if beyond:
        held = ", ".join(caller.roles) or "none"
        raise GrantNotAllowedError(
            f"{caller.subject!r} may not {what} roles {beyond}: they grant permissions its own"
            f" roles ({held}) do not"
        )
