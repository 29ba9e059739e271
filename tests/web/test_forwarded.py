"""The client's address: the peer's, or behind trusted proxies the right-most address in
X-Forwarded-For that is not one of them."""

from __future__ import annotations

import ipaddress

import pytest

from web.forwarded import client_address, parse_address

LOCAL = (ipaddress.ip_network("127.0.0.1"),)
INSIDE = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"
    assert client_address("203.0.113.9", [], ()) == "203.0.113.9"


def test_a_peer_that_is_not_trusted_is_the_client() -> None:
    assert client_address("198.51.100.4", ["203.0.113.9"], LOCAL) == "198.51.100.4"


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        # the client's own header is in front: only the right-most part is believed
        ("127.0.0.1", ["192.0.2.1, 203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["192.0.2.1", "203.0.113.9"], "203.0.113.9"),  # two header lines
        ("127.0.0.1", [], "127.0.0.1"),  # the proxy sent none: the proxy is all we know
        ("127.0.0.1", ["junk, 127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.9:5123"], "203.0.113.9"),
        ("127.0.0.1", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("127.0.0.1", ["::ffff:203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["203.0.113.9,"], "203.0.113.9"),
    ],
)
def test_behind_one_proxy(peer: str, headers: list[str], client: str) -> None:
    assert client_address(peer, headers, LOCAL) == client


def test_behind_a_chain_of_proxies() -> None:
    header = ["192.0.2.1, 203.0.113.9, 10.1.2.3, 10.0.0.7"]
    assert client_address("10.0.0.1", header, INSIDE) == "203.0.113.9"
    assert client_address("::1", header, INSIDE) == "203.0.113.9"
    # every hop trusted: the left-most one is the nearest to the client we know
    assert client_address("10.0.0.1", ["10.9.9.9, 10.0.0.7"], INSIDE) == "10.9.9.9"


def test_addresses_as_proxies_write_them() -> None:
    assert parse_address(" 203.0.113.9 ") == ipaddress.ip_address("203.0.113.9")
    assert parse_address("2001:db8::1") == ipaddress.ip_address("2001:db8::1")
    assert parse_address("unknown") is None and parse_address("") is None
    assert client_address(None, ["203.0.113.9"], LOCAL) == "unknown"
