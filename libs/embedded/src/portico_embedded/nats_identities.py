"""NATS users for the suite: an nkey per identity, with the permissions the topology gives it.

Dev-only: `portico up` and the tests generate them; a cluster gets its seeds
from secrets (Helm) and the same permissions from `nats_permissions`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nkeys

from portico_common.events.nats_permissions import (
    OBSERVER,
    PROVISIONER,
    observer_permissions,
    provisioner_permissions,
    service_permissions,
)
from portico_common.events.topology import SERVICES


@dataclass(frozen=True)
class NatsIdentity:
    """One NATS user: the seed it signs in with, its public key, what it may do."""

    name: str
    seed: str
    permissions: Mapping[str, Any]

    @property
    def public_key(self) -> str:
        return str(nkeys.from_seed(self.seed.encode()).public_key.decode())

    def user_entry(self) -> dict[str, Any]:
        """The identity's entry in the server's `authorization.users`."""
        return {"nkey": self.public_key, "permissions": dict(self.permissions)}


def new_seed() -> str:
    """A fresh nkey user seed ("SU...")."""
    return str(nkeys.encode_seed(os.urandom(32), prefix=nkeys.PREFIX_BYTE_USER).decode())


def suite_identities(seeds: Mapping[str, str] | None = None) -> dict[str, NatsIdentity]:
    """Every service, the provisioner and the observer; `seeds` reuses known ones by name."""
    known = dict(seeds or {})
    permissions: dict[str, Mapping[str, Any]] = {
        service: service_permissions(service) for service in SERVICES
    }
    permissions[PROVISIONER] = provisioner_permissions()
    permissions[OBSERVER] = observer_permissions()
    return {
        name: NatsIdentity(name, known.get(name) or new_seed(), perms)
        for name, perms in permissions.items()
    }
