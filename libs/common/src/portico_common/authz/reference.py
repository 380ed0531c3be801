"""The authorization reference in docs/authorization.md, generated from the policy itself.

Two tables: the roles of roles.toml (what each includes and grants), and
every permission with the roles that grant it and the RPCs that need it,
read from the generated descriptors' (portico.authz.v1.access) options.
`scripts/gen_authz_doc.py` rewrites the marked sections; a unit test fails
when the document and the policy disagree.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from collections.abc import Iterable

import portico
from portico_common.authz.access import MethodAccess, access_of
from portico_common.authz.policy import ANY, RolePolicy

NO_TOKEN = "(no token)"  # noqa: S105 - a table label, not a secret


def every_rpc() -> list[MethodAccess]:
    """Every RPC of every Portico service, from the generated descriptors, by name."""
    found = []
    for module in pkgutil.walk_packages(portico.__path__, "portico."):
        if module.name.endswith("_pb2"):
            file = importlib.import_module(module.name).DESCRIPTOR
            for service in file.services_by_name.values():
                found += [access_of(method) for method in service.methods]
    return sorted(found, key=lambda rpc: rpc.method)


def _code(items: Iterable[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) or "none"


def role_table(policy: RolePolicy) -> str:
    """One row per role: what it includes, the permissions it names, its purpose."""
    lines = [
        "| Role | Includes | Permissions it adds | For |",
        "| --- | --- | --- | --- |",
    ]
    for name, role in policy.roles.items():
        lines.append(
            f"| `{name}` | {_code(role.includes)} | {_code(sorted(role.permissions))}"
            f" | {role.description} |"
        )
    return "\n".join(lines)


def permission_table(policy: RolePolicy, rpcs: Iterable[MethodAccess]) -> str:
    """One row per permission: the roles that grant it, and the RPCs that need it."""
    needed: dict[str, list[str]] = defaultdict(list)
    for rpc in rpcs:
        short = rpc.method.lstrip("/").rsplit(".", 1)[-1].replace("/", ".")
        needed[NO_TOKEN if rpc.unauthenticated else rpc.permission].append(short)
    lines = [
        "| Permission | Granted by | RPCs that need it |",
        "| --- | --- | --- |",
    ]
    for permission in sorted(needed, key=lambda p: (p != NO_TOKEN, p)):
        if permission == NO_TOKEN:
            granted = "anyone"
        else:
            holders = [
                name
                for name, grants in policy.grants.items()
                if permission in grants or ANY in grants
            ]
            granted = _code(holders)
        lines.append(f"| `{permission}` | {granted} | {_code(sorted(needed[permission]))} |")
    return "\n".join(lines)


def sections(policy: RolePolicy, rpcs: Iterable[MethodAccess]) -> dict[str, str]:
    """The generated sections by marker name."""
    return {"roles": role_table(policy), "permissions": permission_table(policy, rpcs)}


def begin_marker(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name}: scripts/gen_authz_doc.py writes this; do not edit -->"


def end_marker(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def render(document: str, generated: dict[str, str]) -> str:
    """`document` with each marked section replaced by its generated text.

    ValueError when a section's markers are missing, so a renamed marker
    cannot leave a stale table behind unnoticed.
    """
    for name, text in generated.items():
        begin, end = begin_marker(name), end_marker(name)
        head, found, rest = document.partition(begin)
        _, found_end, tail = rest.partition(end)
        if not found or not found_end:
            raise ValueError(f"the document has no {begin!r} ... {end!r} section")
        document = f"{head}{begin}\n{text}\n{end}{tail}"
    return document
