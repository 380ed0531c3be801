"""Which address a token request comes from, for the per-source rate limit.

The gRPC peer, unless the peer is a trusted proxy (the gateway, configured
with PORTICO_AUTH_TRUSTED_PROXIES): then the address that proxy put last in
`x-forwarded-for`. A client reaching auth directly cannot choose its address
by sending the header: from an untrusted peer it is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = "x-forwarded-for"


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """`"127.0.0.1, 10.0.0.0/8"` as networks; ValueError names an entry that is not one."""
    found = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                found.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or network") from exc
    return tuple(found)


def peer_address(peer: str) -> str:
    """The address of a gRPC peer string (`ipv4:1.2.3.4:5`, `ipv6:[::1]:5`), else the string."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        host = rest.rpartition(":")[0] if rest.startswith("[") else rest
        return host.strip("[]")
    return peer


class SourceResolver:
    """Maps a call's peer and metadata to the address its request comes from."""

    def __init__(self, trusted_proxies: Iterable[IpNetwork] = ()) -> None:
        self._trusted = tuple(trusted_proxies)

    def __call__(self, peer: str, metadata: Mapping[str, str]) -> str:
        address = peer_address(peer)
        forwarded = metadata.get(FORWARDED_FOR, "")
        if forwarded and self._trusts(address):
            nearest = forwarded.rsplit(",", 1)[-1].strip()
            if _is_ip(nearest):
                return nearest
        return address

    def _trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
