"""The role table (roles.toml): roles, what they include, the permissions they grant.

Data, not code: the table is the documented policy, and a role's grants are
resolved once at load. A token's effective permissions are the union over its
roles; when the token also carries scopes, only the permissions its scopes
cover remain ("*", a permission, or "<resource>.*"): a client may ask for a
narrower token, never a wider one.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

ANY = "*"
_PERMISSION = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
_ROLE = re.compile(r"^[a-z][a-z0-9-]*$")


class PolicyError(ValueError):
    """The role table is malformed; the service must not start with it."""


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    includes: tuple[str, ...]
    permissions: frozenset[str]


@dataclass(frozen=True)
class RolePolicy:
    """Roles by name, each with every permission it grants (includes resolved)."""

    roles: Mapping[str, Role]
    grants: Mapping[str, frozenset[str]]
    reserved: frozenset[str]

    @classmethod
    def parse(cls, table: Mapping[str, Any]) -> RolePolicy:
        raw = table.get("roles")
        if not isinstance(raw, dict) or not raw:
            raise PolicyError("the role table has no [roles.<name>] entries")
        roles = {name: _role(name, entry) for name, entry in raw.items()}
        for role in roles.values():
            unknown = [r for r in role.includes if r not in roles]
            if unknown:
                raise PolicyError(f"role {role.name!r} includes unknown roles {unknown}")
        grants = {name: _resolve(name, roles, ()) for name in roles}
        reserved = frozenset(table.get("reserved", []))
        return cls(roles, grants, reserved)

    def permissions_of(self, roles: Iterable[str]) -> frozenset[str]:
        """Every permission the roles grant together (unknown roles grant nothing)."""
        found: set[str] = set()
        for role in roles:
            found |= self.grants.get(role, frozenset())
        return frozenset(found)

    def allows(self, roles: Iterable[str], permission: str, scopes: Iterable[str] = ()) -> bool:
        """Whether a token with these roles (and, if any, these scopes) has `permission`."""
        granted = self.permissions_of(roles)
        if ANY not in granted and permission not in granted:
            return False
        narrowed = tuple(scopes)
        return not narrowed or any(scope_covers(scope, permission) for scope in narrowed)

    def named_permissions(self) -> frozenset[str]:
        """Every permission the table names (not counting "*")."""
        named = set(self.reserved)
        for role in self.roles.values():
            named |= role.permissions
        return frozenset(named - {ANY})

    def holds_all(self, holder: Iterable[str], wanted: Iterable[str]) -> bool:
        """Whether roles `holder` grant every permission the roles `wanted` grant.

        Nobody may give a client a role that would let it do more than the giver can.
        """
        have = self.permissions_of(holder)
        need = self.permissions_of(wanted)
        return ANY in have or (ANY not in need and need <= have)


_SCOPE = re.compile(r"^(\*|[a-z][a-z_]*\.(\*|[a-z][a-z_]*))$")


def is_scope(scope: str) -> bool:
    """Whether a string is a token scope: "*", a permission, or "<resource>.*"."""
    return bool(_SCOPE.match(scope))


def scope_covers(scope: str, permission: str) -> bool:
    """Whether a token scope admits a permission: "*", the permission, or "<resource>.*"."""
    if scope in (ANY, permission):
        return True
    return scope.endswith(".*") and permission.startswith(scope[:-1])


def _role(name: str, entry: object) -> Role:
    if not _ROLE.match(name):
        raise PolicyError(f"role name {name!r} must be lowercase words joined by '-'")
    if not isinstance(entry, dict):
        raise PolicyError(f"role {name!r} must be a table")
    permissions = entry.get("permissions", [])
    bad = [p for p in permissions if p != ANY and not _PERMISSION.match(p)]
    if bad:
        raise PolicyError(f"role {name!r} names malformed permissions {bad}")
    return Role(
        name,
        str(entry.get("description", "")),
        tuple(entry.get("includes", [])),
        frozenset(permissions),
    )


def _resolve(name: str, roles: Mapping[str, Role], path: tuple[str, ...]) -> frozenset[str]:
    if name in path:
        raise PolicyError(f"roles include each other in a cycle: {' -> '.join((*path, name))}")
    role = roles[name]
    granted = set(role.permissions)
    for included in role.includes:
        granted |= _resolve(included, roles, (*path, name))
    return frozenset(granted)


@cache
def default_policy() -> RolePolicy:
    """The policy shipped with the kernel (roles.toml)."""
    text = importlib.resources.files(__package__).joinpath("roles.toml").read_text()
    return RolePolicy.parse(tomllib.loads(text))
