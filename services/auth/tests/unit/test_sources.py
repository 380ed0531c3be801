"""Which address a token request comes from: the peer, or what a trusted proxy forwards."""

from __future__ import annotations

import ipaddress

import pytest

from portico_auth.entrypoints.sources import SourceResolver, parse_networks, peer_address

GATEWAY = SourceResolver([ipaddress.ip_network("10.1.0.0/16")])


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:127.0.0.1:50512", "127.0.0.1"),
        ("ipv6:[::1]:50512", "::1"),
        ("unix:/tmp/auth.sock", "unix:/tmp/auth.sock"),
    ],
)
def test_peer_strings_become_addresses(peer: str, address: str) -> None:
    """gRPC's ipv4/ipv6 peers lose their port; anything else is kept whole."""
    assert peer_address(peer) == address


def test_a_trusted_proxy_names_the_source() -> None:
    """From the gateway's network, the last x-forwarded-for entry is the source."""
    forwarded = {"x-forwarded-for": "198.51.100.1, 203.0.113.7"}
    assert GATEWAY("ipv4:10.1.2.3:4000", forwarded) == "203.0.113.7"


def test_anyone_else_cannot_choose_its_address() -> None:
    """From an untrusted peer the header is ignored; so is a value that is not an address."""
    assert GATEWAY("ipv4:192.0.2.9:4000", {"x-forwarded-for": "203.0.113.7"}) == "192.0.2.9"
    assert GATEWAY("ipv4:10.1.2.3:4000", {"x-forwarded-for": "evil"}) == "10.1.2.3"
    assert GATEWAY("ipv4:10.1.2.3:4000", {}) == "10.1.2.3"
    assert SourceResolver()("ipv4:10.1.2.3:1", {"x-forwarded-for": "203.0.113.7"}) == "10.1.2.3"


def test_trusted_proxies_are_parsed_from_a_list() -> None:
    """Addresses and networks, comma separated; a bad entry is named."""
    assert parse_networks(" 127.0.0.1, 10.0.0.0/8 ,") == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="'gateway' is not an IP address"):
        parse_networks("127.0.0.1, gateway")
