"""Run the gateway under uvicorn: `python -m portico_gateway`."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import uvicorn

from portico_common.grpc.jwks import jwks_fetcher
from portico_common.grpc.tokens import TokenVerifier
from portico_common.logs import configure_logging
from portico_common.settings import GrpcClientTlsSettings
from portico_common.tls import grpc_client_tls
from portico_common.tracing import configure_tracing
from portico_gateway.app import create_app
from portico_gateway.ratelimit import TenantRateLimiter
from portico_gateway.settings import GatewaySettings


class GatewayServer(uvicorn.Server):
    """A uvicorn server that says where it listens once it does.

    With port 0 the operating system picks the port, so whoever started the
    process learns it from the ready file (`{"port": ..., "pid": ...}`),
    written only once the socket accepts connections.
    """

    def __init__(self, config: uvicorn.Config, ready_file: Path | None = None) -> None:
        super().__init__(config)
        self.ready_file = ready_file

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.ready_file is not None and not self.should_exit:
            # Imported only here: the kernel's runtime pulls in asyncpg and nats,
            # which a gateway started without a ready file never needs.
            from portico_common.runtime import write_ready_file

            write_ready_file(self.ready_file, port=self.bound_port())

    def bound_port(self) -> int:
        """The port of the first listening socket (the one asked for, or the one given for 0)."""
        for server in self.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("uvicorn is not listening")


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", os.environ.get("PORTICO_LOG_LEVEL", "INFO"))
    configure_tracing("portico-gateway")
    upstream_tls = grpc_client_tls(GrpcClientTlsSettings())
    # The rate limit's tenant is the caller's, verified against auth's keys as the
    # services verify them; without auth no token can be verified, so every request
    # spends its client address's budget.
    verifier = (
        TokenVerifier(jwks_fetcher(settings.auth_target, upstream_tls))
        if settings.auth_target
        else None
    )
    app = create_app(
        settings.upstreams(),
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        deadline_seconds=settings.deadline_seconds,
        upstream_tls=upstream_tls,
        rate_limit=(
            TenantRateLimiter(settings.tenant_rate_per_second, settings.tenant_rate_burst)
            if settings.tenant_rate_per_second > 0
            else None
        ),
        token_verifier=verifier,
    )
    # log_config=None keeps uvicorn from replacing our logging set-up; uvicorn handles
    # SIGTERM/SIGINT itself: it stops accepting, drains requests, then runs shutdown.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        ssl_certfile=settings.tls_cert_file or None,
        ssl_keyfile=settings.tls_key_file or None,
    )
    ready_file = Path(settings.ready_file) if settings.ready_file else None
    GatewayServer(config, ready_file).run()


if __name__ == "__main__":
    main()
