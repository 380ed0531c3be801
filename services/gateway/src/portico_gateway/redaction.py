"""What an upstream's error text may tell an HTTP client, and what it may not.

A status detail reaches the client in the problem's `detail`; it must not map the
inside of the deployment. Two sources leak: grpc's client library, whose UNAVAILABLE
text names the target it could not reach (`ipv4:10.0.3.7:50051: Connection refused`),
and a service's own message quoting an address, a file path or a traceback. The
first is replaced as a whole (the client learns which service is unreachable, not
where it lives); in the second each address or path is masked, keeping the rest.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[internal]"

# How grpc core words a call that never reached a server: connecting, resolving, or a
# connection lost under the call. Lower case, matched anywhere in the detail.
_TRANSPORT_FAILURES = (
    "failed to connect to all addresses",
    "errors resolving",
    "dns resolution failed",
    "name resolution failure",
    "connections to all backends failing",
    "socket closed",
    "connection reset",
    "connection refused",
    "broken pipe",
    "keepalive watchdog timeout",
    "goaway received",
    "stream removed",
)

_INTERNALS = re.compile(
    "|".join(
        (
            # grpc target and peer URIs: ipv4:10.0.0.5:50051, unix:/run/x.sock, dns:///auth
            r"\b(?:ipv4|ipv6|unix|unix-abstract|dns|vsock):\S+",
            # [::1]:50051 and 10.0.0.5:5432
            r"\[[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?",
            r"\b(?:\d{1,3}\.){3}\d{1,3}:\d{1,5}\b",
            # host:port, dotted (auth.portico.svc:50051) or a single label (auth:50051)
            r"\b(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[a-z][a-z0-9-]*):\d{2,5}\b",
            # absolute file paths of two or more segments, not the tail of a relative one
            r"(?<![\w@.~-])(?:[A-Za-z]:)?(?:/[\w.@+~-]+){2,}/?",
        )
    )
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|\bFile \"[^\"]+\", line \d+")


def from_transport(detail: str) -> bool:
    """Whether `detail` is grpc's own account of failing to reach the service."""
    lowered = detail.lower()
    return any(failure in lowered for failure in _TRANSPORT_FAILURES)


def has_traceback(detail: str) -> bool:
    return _TRACEBACK.search(detail) is not None


def mask(text: str) -> str:
    """`text` with every address, grpc target and absolute path replaced by MASK."""
    return _INTERNALS.sub(MASK, text)


def mask_all(value: Any) -> Any:
    """`value` (decoded JSON) with `mask` applied to every string in it."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_all(item) for item in value]
    if isinstance(value, dict):
        return {key: mask_all(item) for key, item in value.items()}
    return value
