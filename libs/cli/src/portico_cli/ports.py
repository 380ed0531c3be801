"""Choosing TCP ports: the preferred one when it is free, else any free one."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from portico_embedded.processes import free_port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `host:port` now.

    SO_REUSEADDR as servers set it, so a port in TIME_WAIT after a restart
    counts as free while one with a listener does not.
    """
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(*preferred: int | None, taken: Iterable[int] = ()) -> int:
    """The first free port among `preferred` (None and 0 skipped), else a free one.

    `taken` holds ports already promised to another process of this run, which
    are not listening yet and so still look free.
    """
    busy = set(taken)
    for port in preferred:
        if port and port not in busy and port_is_free(port):
            return port
    while True:
        port = free_port()
        if port not in busy:
            return port
