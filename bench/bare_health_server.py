"""A bare grpcio server: the standard health servicer, no interceptor, nothing else.

`python -m bench.bare_health_server PORT` serves `grpc.health.v1.Health` on
127.0.0.1:PORT with grpc.aio, as the services do, until killed: the floor any
RPC of this machine's Python gRPC pays, next to which a benchmark prints its
own figures.
"""

from __future__ import annotations

import asyncio
import sys

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2_grpc


async def serve(port: int) -> None:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
