"""The access rule each RPC declares in its proto (the portico.authz.v1.access option)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor

from portico.authz.v1 import authz_pb2

# Infrastructure every gRPC client may use without a token.
_OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.")


@dataclass(frozen=True)
class MethodAccess:
    """What a call to one RPC needs: nothing (unauthenticated) or one permission."""

    method: str
    permission: str = ""
    unauthenticated: bool = False

    @property
    def declared(self) -> bool:
        return self.unauthenticated or bool(self.permission)


def access_of(descriptor: MethodDescriptor) -> MethodAccess:
    """The rule a method descriptor declares (undeclared: neither field set)."""
    full = f"/{descriptor.containing_service.full_name}/{descriptor.name}"
    options = descriptor.GetOptions()
    if not options.HasExtension(authz_pb2.access):
        return MethodAccess(full)
    rule = options.Extensions[authz_pb2.access]
    return MethodAccess(full, rule.permission, rule.unauthenticated)


@cache
def method_access(method: str) -> MethodAccess:
    """The rule for a gRPC method path `/package.Service/Method`.

    Health and reflection are open; a method the pool does not know, or one
    that declares nothing, is returned undeclared and must be refused.
    """
    service, _, name = method.lstrip("/").rpartition("/")
    if service.startswith(_OPEN_SERVICES):
        return MethodAccess(method, unauthenticated=True)
    try:
        found = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    except KeyError:
        return MethodAccess(method)
    return access_of(found)
