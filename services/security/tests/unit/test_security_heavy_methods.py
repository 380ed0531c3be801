"""security's heavy RPCs, capped per tenant by the kernel, are real methods of its services."""

from __future__ import annotations

from google.protobuf import descriptor_pool

from portico.security.v1 import install_pb2, provenance_pb2, security_pb2  # noqa: F401 - registers
from portico_security.bootstrap import HEAVY_METHODS


def test_every_heavy_method_names_an_rpc_security_serves() -> None:
    """A misspelt name would leave that RPC uncapped without a word."""
    pool = descriptor_pool.Default()
    for method in HEAVY_METHODS:
        service, _, name = method.strip("/").rpartition("/")
        assert pool.FindServiceByName(service).methods_by_name[name], method
    assert len(HEAVY_METHODS) == 4
