"""The role table and the access rule every RPC declares: the authorization policy."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import portico
from portico_common.authz.access import MethodAccess, access_of, method_access
from portico_common.authz.policy import PolicyError, RolePolicy, default_policy, scope_covers

UNAUTHENTICATED = {
    "/portico.auth.v1.AuthService/IssueServiceToken",
    "/portico.auth.v1.AuthService/GetJwks",
}


def _every_rpc() -> list[MethodAccess]:
    """Every RPC of every Portico service, from the generated descriptors."""
    found = []
    for module in pkgutil.walk_packages(portico.__path__, "portico."):
        if module.name.endswith("_pb2"):
            file = importlib.import_module(module.name).DESCRIPTOR
            for service in file.services_by_name.values():
                found += [access_of(method) for method in service.methods]
    return found


RPCS = _every_rpc()


def test_the_walk_finds_every_service() -> None:
    """The walk sees RPCs of all six services and the API each serves (it cannot see none)."""
    services = {rpc.method.split("/")[1].split(".")[1] for rpc in RPCS}
    assert services == {"auth", "compat", "rollout", "security", "slo", "tenancy", "ops"}
    assert len(RPCS) >= 40


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: r.method)
def test_every_rpc_declares_who_may_call_it(rpc: MethodAccess) -> None:
    """Each RPC carries exactly one rule: a permission, or explicitly no token at all."""
    assert rpc.declared, f"{rpc.method} has no (portico.authz.v1.access) option"
    assert not (rpc.permission and rpc.unauthenticated)


def test_only_token_issuance_and_the_jwks_are_unauthenticated() -> None:
    """Nothing else may be called without a token."""
    assert {r.method for r in RPCS if r.unauthenticated} == UNAUTHENTICATED


def test_every_permission_an_rpc_needs_is_granted_by_a_role() -> None:
    """No RPC is reachable only by the platform admin's wildcard by accident."""
    policy = default_policy()
    named = policy.named_permissions()
    orphans = sorted({r.permission for r in RPCS if r.permission} - named)
    assert orphans == []


def test_every_permission_the_table_names_exists() -> None:
    """A typo in roles.toml cannot grant a permission no RPC checks."""
    policy = default_policy()
    declared = {r.permission for r in RPCS if r.permission}
    assert sorted(policy.named_permissions() - declared - policy.reserved) == []


def test_roles_include_what_they_build_on() -> None:
    """release-manager can do what developer can, developer what viewer can."""
    policy = default_policy()
    viewer = policy.permissions_of(["viewer"])
    developer = policy.permissions_of(["developer"])
    manager = policy.permissions_of(["release-manager"])
    assert viewer < developer < manager
    assert "installs.approve" not in policy.permissions_of(["tenant-admin"])
    assert policy.allows(["platform-admin"], "tenants.create")
    assert not policy.allows(["tenant-admin"], "tenants.create")
    assert not policy.allows(["no-such-role"], "rollouts.read")


def test_scopes_narrow_a_token_but_never_widen_it() -> None:
    """Scopes keep only the permissions they cover; a scope cannot add one the roles lack."""
    policy = default_policy()
    assert policy.allows(["developer"], "rollouts.request", scopes=["rollouts.*"])
    assert not policy.allows(["developer"], "rollouts.request", scopes=["rollouts.read"])
    assert not policy.allows(["viewer"], "rollouts.request", scopes=["*"])
    assert scope_covers("rollouts.*", "rollouts.read")
    assert not scope_covers("rollouts.*", "rollouts_x.read")


def test_nobody_grants_a_role_they_do_not_hold() -> None:
    """A tenant admin may hand out developer, not security-approver nor platform-admin."""
    policy = default_policy()
    assert policy.holds_all(["tenant-admin"], ["developer", "viewer"])
    assert not policy.holds_all(["tenant-admin"], ["security-approver"])
    assert not policy.holds_all(["tenant-admin"], ["platform-admin"])
    assert policy.holds_all(["platform-admin"], ["platform-admin"])


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({}, "no \\[roles"),
        ({"roles": {"a": {"includes": ["b"]}}}, "unknown roles"),
        ({"roles": {"a": {"includes": ["b"]}, "b": {"includes": ["a"]}}}, "cycle"),
        ({"roles": {"a": {"permissions": ["Bad Permission"]}}}, "malformed"),
        ({"roles": {"Admin": {}}}, "lowercase"),
    ],
)
def test_a_malformed_table_is_refused_with_the_reason(
    table: dict[str, object], problem: str
) -> None:
    """The service refuses to start on a broken policy, saying what is wrong."""
    with pytest.raises(PolicyError, match=problem):
        RolePolicy.parse(table)


def test_unknown_methods_are_undeclared_and_infrastructure_is_open() -> None:
    """A method the pool does not know must be refused; health and reflection stay open."""
    assert not method_access("/no.such.Service/Do").declared
    assert method_access("/grpc.health.v1.Health/Check").unauthenticated
