"""docs/authorization.md says what the role table and the protos say."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico_common.authz.policy import RolePolicy, default_policy
from portico_common.authz.reference import (
    begin_marker,
    end_marker,
    every_rpc,
    permission_table,
    render,
    role_table,
    sections,
)

DOC = Path(__file__).resolve().parents[4] / "docs" / "authorization.md"


def test_the_document_shows_the_current_policy() -> None:
    """Regenerating the document's tables changes nothing (else: scripts/gen_authz_doc.py)."""
    current = DOC.read_text()
    assert render(current, sections(default_policy(), every_rpc())) == current


def test_the_tables_name_every_role_and_every_rpc() -> None:
    """Each role has a row; each RPC is listed under its permission or as needing no token."""
    policy = default_policy()
    roles = role_table(policy)
    assert all(f"| `{name}` |" in roles for name in policy.roles)
    permissions = permission_table(policy, every_rpc())
    assert "| `(no token)` | anyone | `AuthService.GetJwks`, `AuthService.IssueServiceToken` |" in (
        permissions
    )
    assert "| `quotas.write` | `platform-admin` | `TenancyService.SetQuota` |" in permissions
    for rpc in every_rpc():
        assert rpc.method.lstrip("/").rsplit(".", 1)[-1].replace("/", ".") in permissions


def test_a_change_to_the_policy_shows_as_a_stale_document() -> None:
    """A role granted one more permission renders differently: the first test would fail."""
    table = {
        "roles": {
            "viewer": {"description": "reads", "permissions": ["rollouts.read"]},
            "auditor": {"description": "audits", "includes": ["viewer"], "permissions": []},
        }
    }
    before = role_table(RolePolicy.parse(table))
    table["roles"]["auditor"]["permissions"] = ["audit.read"]
    assert role_table(RolePolicy.parse(table)) != before


def test_rendering_needs_both_markers() -> None:
    """A document without a section's markers is an error, not a silent no-op."""
    with pytest.raises(ValueError, match="roles"):
        render("no markers here", {"roles": "| table |"})
    document = f"head\n{begin_marker('roles')}\nold\n{end_marker('roles')}\ntail"
    assert render(document, {"roles": "new"}) == (
        f"head\n{begin_marker('roles')}\nnew\n{end_marker('roles')}\ntail"
    )
