"""The front door's checks on every request, before any handler: the Host it names, the
page it comes from, the headers every answer carries, and a JSON answer (never a
traceback) for whatever a handler did not expect."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from web import keys
from web.auth import TICKETED
from web.errors import endpoint_of, json_error

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# standard WebRTC tools publish and watch from anywhere, with a bearer token, no cookie
CROSS_ORIGIN_PATHS = ("/whip/", "/whep/")
# pages: scripts, styles, pictures, sound and sockets from this origin only; never framed
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'{connect}; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DEFAULT_MESSAGES = {
    404: "there is nothing at this address",
    405: "this address does not take that method",
    413: "the request is too large",
}
# everything else (JSON, files): nothing in it runs, nothing frames it
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def link(request: web.Request, path: str) -> str:
    """An absolute link to `path` on this site, from the configured public URL."""
    return link_base(request) + path


def link_base(request: web.Request) -> str:
    """The base of links built for (or shown to) others: the public URL when there is
    one, else the loopback address this request came by (known_host allowed no other)."""
    return request.app[keys.SITE].base(request.scheme, request.host)


@web.middleware
async def known_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request naming a host this server is not (DNS rebinding, a forged Host that
    would end up in links) is refused before anything reads it."""
    site = request.app[keys.SITE]
    if not site.answers(request.host):
        names = ", ".join(sorted(site.hosts - {"::1"}))
        return json_error(
            request,
            421,
            "unknown_host",
            f"this server answers as {names}; set --public-url (or --allowed-origin) "
            "to the address people open it at",
        )
    return await handler(request)


@web.middleware
async def same_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What changes something (any method but GET, HEAD and OPTIONS) and every
    WebSocket must come from one of parta's own pages: the Origin a browser sends is
    checked, so a page of another origin of the same site (another port, a sibling
    host name) cannot act with the user's cookie."""
    changes = request.method not in SAFE_METHODS
    socket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    if (changes or socket) and not request.path.startswith(CROSS_ORIGIN_PATHS):
        site = request.app[keys.SITE]
        origin = request.headers.get(hdrs.ORIGIN)
        if not site.may_act(
            origin, request.headers.get("Sec-Fetch-Site"), request.scheme, request.host
        ):
            if socket and request.path == "/ws" and "ticket" in request.query:
                request[TICKETED] = True  # another node's page: the ticket decides
            else:
                request.app[keys.METRICS].cross_origin.labels(
                    "websocket" if socket else "write"
                ).inc()
                return json_error(
                    request,
                    403,
                    "cross_origin",
                    "this request did not come from this server's own pages",
                )
    return await handler(request)


@web.middleware
async def unexpected(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The last line: an error no handler expected is logged with its request and
    counted, and the client gets a JSON 500 with no trace of our code in it."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        # aiohttp's own refusals (no such route, wrong method, a body too large) in JSON
        # like ours; a redirect or an answer already in JSON goes as it is
        code = exc.reason.lower().replace(" ", "_").replace("-", "_")
        message = exc.text or ""
        if message in ("", f"{exc.status}: {exc.reason}"):  # aiohttp's default text
            message = DEFAULT_MESSAGES.get(exc.status, exc.reason)
        return json_error(request, exc.status, code, message, headers=_kept(exc.headers))
    except Exception:
        logger.exception("unexpected error in %s %s", request.method, endpoint_of(request))
        return json_error(
            request, 500, "internal_error", "something went wrong on the server; it was logged"
        )


def _kept(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in (hdrs.ALLOW, hdrs.RETRY_AFTER, hdrs.LOCATION)}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers on every answer: no MIME sniffing, no Referer leaving the site, never
    framed; pages get the strict content policy (scripts only from our origin, no
    inline script); whatever else is answered gets a policy under which nothing runs,
    unless its handler set its own."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if hdrs.CONTENT_SECURITY_POLICY in headers or response.status == 304:
        # (a 304's headers replace the cached page's: it keeps the policy it came with)
        return
    if response.content_type == "text/html":
        extra = "".join(f" {source}" for source in request.app[keys.SITE].connect)
        headers[hdrs.CONTENT_SECURITY_POLICY] = PAGE_POLICY.format(connect=extra)
    elif not request.path.startswith("/static/") and request.path != "/vendor/hls.js":
        headers[hdrs.CONTENT_SECURITY_POLICY] = OTHER_POLICY
