"""Servicers and the names they are served under, registered in one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor


@dataclass(frozen=True)
class Servicer:
    """A servicer, the generated `add_<Name>Servicer_to_server`, and the service it serves.

    `Servicer(rollout_pb2.DESCRIPTOR.services_by_name["RolloutService"],
    rollout_pb2_grpc.add_RolloutServiceServicer_to_server, RolloutServicer(...))`
    """

    descriptor: ServiceDescriptor
    add: Callable[[Any, grpc.aio.Server], None]
    implementation: object

    @property
    def name(self) -> str:
        """The full name health and reflection announce (`portico.rollout.v1.RolloutService`)."""
        return str(self.descriptor.full_name)


def register_servicers(server: grpc.aio.Server, servicers: Iterable[Servicer]) -> list[str]:
    """Adds every servicer to `server`; returns their full service names."""
    names = []
    for servicer in servicers:
        servicer.add(servicer.implementation, server)
        names.append(servicer.name)
    return names
