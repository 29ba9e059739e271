"""The address a request came from.

The connection's peer, unless the peer is one of the configured trusted proxies
(`--trusted-proxy`): then the right-most address in X-Forwarded-For that is not a
trusted proxy, since each proxy appends the address it was reached from and only the
part written by our own proxies can be believed; anything left of it the client could
have written itself. Without a trusted proxy, X-Forwarded-For is never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web

from web import keys

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> Address | None:
    """An address as a proxy may write it (`192.0.2.1`, `192.0.2.1:5000`, `2001:db8::1`,
    `[2001:db8::1]:5000`), IPv4-mapped IPv6 as IPv4; None if it is none of those."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The client's address, given the peer's, the X-Forwarded-For headers' values and
    the trusted proxies."""
    address = parse_address(peer or "")
    if address is None:
        return peer or "unknown"
    if not trusted:
        return str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    while hops and any(address in network for network in trusted):
        hop = parse_address(hops.pop())
        if hop is None:
            break  # not an address: the trusted proxy that passed it on is all we know
        address = hop
    return str(address)


def request_address(request: web.Request) -> str:
    """The address `request` came from (see the module's docstring)."""
    return client_address(
        request.remote,
        request.headers.getall("X-Forwarded-For", ()),
        request.app[keys.CONFIG].trusted_proxies,
    )
