"""Run the gateway under uvicorn: `python -m portico_gateway`."""

from __future__ import annotations

import os

import uvicorn

from portico_common.logs import configure_logging
from portico_common.tracing import configure_tracing
from portico_gateway.app import create_app
from portico_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", os.environ.get("PORTICO_LOG_LEVEL", "INFO"))
    configure_tracing("portico-gateway")
    app = create_app(
        settings.upstreams(),
        max_body_bytes=settings.max_body_bytes,
        deadline_seconds=settings.deadline_seconds,
    )
    # log_config=None keeps uvicorn from replacing our logging set-up; uvicorn handles
    # SIGTERM/SIGINT itself: it stops accepting, drains requests, then runs shutdown.
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
