"""Where parta is opened: the host names it answers to, the origins whose pages may act
for a user, and the base of every link it builds.

A pure value, made once from the configuration. With `--public-url`, links are built
from it alone and only its host name (and `--allowed-origin`s', and loopback names for
the operator's own checks) is answered. Without one, parta listens on loopback only
(`config_from_args` refuses another `--host`): it answers loopback names, and a link
for the requester is built from the loopback address they used.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# what a request that may change something says of the page that sent it
CROSS = frozenset({"cross-site", "same-site"})


class BadUrl(ValueError):
    """A configured URL that is not an http(s) origin."""


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of an http(s) URL, lower case, default ports dropped."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadUrl(f"{url!r} is not an http:// or https:// address")
    try:
        port = parts.port
    except ValueError:
        raise BadUrl(f"{url!r} has a bad port") from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def host_name(host: str) -> str:
    """The name in a Host header (`Name:port`, `[::1]:8080`), lower case, no port."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    return host_name(host) in LOOPBACK_NAMES


@dataclass(frozen=True)
class Site:
    """`public`: the public URL's origin, None for the loopback default; `origins`: the
    origins whose pages may change things (the public one and --allowed-origin's)."""

    public: str | None
    origins: frozenset[str]
    # where pages may open sockets besides their own origin: a cluster's other nodes,
    # whose addresses come and go (a call's `redirect` names one)
    connect: tuple[str, ...] = ()
    hosts: frozenset[str] = LOOPBACK_NAMES  # the host names answered (of() adds origins')

    @classmethod
    def of(
        cls, public_url: str | None, allowed: tuple[str, ...] = (), *, cluster: bool = False
    ) -> Site:
        public = None if public_url is None else origin_of(public_url)
        origins = {origin_of(o) for o in allowed}
        if public is not None:
            origins.add(public)
        hosts = LOOPBACK_NAMES | {host_name(urlsplit(o).netloc) for o in origins}
        return cls(public, frozenset(origins), ("ws:", "wss:") if cluster else (), hosts)

    def answers(self, host: str) -> bool:
        """Whether a request's Host header names this server (the port is the socket's
        business: a proxy on another port may pass the name on)."""
        return host_name(host) in self.hosts

    def base(self, scheme: str, host: str) -> str:
        """The base of links built for a request (with `scheme` and a Host it answers)."""
        return self.public or f"{scheme}://{host.lower()}"

    def may_act(self, origin: str | None, fetch_site: str | None, scheme: str, host: str) -> bool:
        """Whether a browser request that changes something (or opens a WebSocket) comes
        from one of parta's own pages: its Origin is ours, or the very origin it was sent
        to. A client that is no browser sends neither header, and no cookie it did not
        get itself: it may."""
        if fetch_site is not None and fetch_site.lower() in CROSS:
            return False
        if origin is None:
            return True
        if origin == "null":  # a sandboxed frame, a redirect across sites, a data: page
            return False
        try:
            normalised = origin_of(origin)
        except BadUrl:
            return False
        return normalised in self.origins or normalised == origin_of(f"{scheme}://{host}")
