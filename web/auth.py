"""Who a request is: the session cookie, required by a middleware on every endpoint but
a few public ones, and the user it names (`user_of`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from accounts.sessions import COOKIE, TTL, Sessions
from store.accounts import User

# Reachable without a session: health, metrics, the client's files, the log-in page and
# its API, and the invite landing pages. WHIP and WHEP are authorised by their own
# bearer tokens (an encoder has no session), see web/http/whip.py.
PUBLIC_PREFIXES = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/static/",
    "/login",
    "/api/auth/",
    "/reset/",  # a password reset link's page and API: the link is the credential
    "/api/password-resets/",
    "/join/",
    "/invite/",
    "/api/invites/",
    "/whip/",
    "/whep/",
    "/watch/",  # a broadcast's watch page: public ones need no account (watch.py checks)
    "/api/watch/",
    "/hls/",
    "/vendor/",  # third-party browser libraries (hls.js for the watch page)
    "/internal/",  # between a cluster's nodes, with the cluster's secret (edges.py)
    "/api/openapi.json",  # the HTTP API's description: no data in it
)


USER = web.RequestKey("user", User)


TOKEN = web.RequestKey("session_token", str)


# a call WebSocket another node's page opened with a one-time ticket (web/guard.py):
# the ticket is its only credential, never the cookie
TICKETED = web.RequestKey("ticketed", bool)


def session_token(request: web.Request, cookie_name: str = COOKIE) -> str | None:
    """The cookie a browser sends, or `Authorization: Bearer` from other clients."""
    cookie = request.cookies.get(cookie_name)
    if cookie:
        return cookie
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and not request.path.startswith(("/whip/", "/whep/")):
        return header[7:].strip() or None
    return None


def is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES)


def wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/ws")) or "json" in request.headers.get("Accept", "")


def middleware(
    sessions: Callable[[web.Application], Sessions],
    on_refused: Callable[[web.Request], None],
    redeem: Callable[[web.Request, str], Awaitable[str | None]] | None = None,
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Puts the session's user on the request (USER); refuses requests without one on
    non-public paths: 401 JSON for the API and WebSockets, a redirect to /login for
    pages. `redeem` turns the one-time ticket of a call's WebSocket (`/ws?ticket=`)
    into a session token: another node of a cluster sent the browser here."""

    @web.middleware
    async def require_session(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        token = None
        found = sessions(request.app)
        ticket = request.query.get("ticket")
        if ticket and redeem is not None and request.path == "/ws":
            token = await redeem(request, ticket)  # sent here by another node: it wins
        if not request.get(TICKETED):
            token = token or session_token(request, found.cookie)
        user = await found.user_for(token) if token else None
        if user is not None and token is not None:
            request[USER] = user
            request[TOKEN] = token
        elif not is_public(request.path) and request.method != "OPTIONS":
            # (OPTIONS: capability discovery and CORS preflights carry no credentials)
            on_refused(request)
            if wants_json(request):
                return web.json_response(
                    {"error": "unauthorized", "message": "log in first"}, status=401
                )
            target = request.path_qs
            raise web.HTTPFound(f"/login?next={quote(target, safe='')}")
        return await handler(request)

    return require_session


def user_of(request: web.Request) -> User:
    """The logged-in user (the middleware has made sure there is one)."""
    return request[USER]


def set_cookie(response: web.StreamResponse, token: str, sessions: Sessions) -> None:
    response.set_cookie(
        sessions.cookie,
        token,
        max_age=int(TTL.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=sessions.secure,
        path="/",
    )


def drop_cookie(response: web.StreamResponse, sessions: Sessions) -> None:
    response.del_cookie(sessions.cookie, path="/", secure=sessions.secure)
