"""Run the gateway under uvicorn: `python -m portico_gateway`."""

from __future__ import annotations

import logging

import uvicorn

from portico_gateway.app import create_app
from portico_gateway.settings import GatewaySettings


def main() -> None:
    # Plain stdlib logging until the shared kernel's structured logging is wired in.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = GatewaySettings()
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
