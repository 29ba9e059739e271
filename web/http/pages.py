"""Plain HTTP endpoints: the web client, health, readiness and metrics."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import client
from web import keys

routes = web.RouteTableDef()
routes.static("/static/", client.DIR, append_version=False)

STATIC_DIR = client.DIR
# Third-party browser libraries, from npm (package.json at the repo root; `./run` installs)
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
HLS_JS = NODE_MODULES / "hls.js" / "dist" / "hls.min.js"


@routes.get("/call/{call}")
@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    # An invalid call id still gets the page: the client explains what is wrong.
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/login")
async def login(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "login.html", headers={"Cache-Control": "no-cache"})


@routes.get("/chats")
async def chats(request: web.Request) -> web.StreamResponse:
    """The chats client (`/chats`, `/chats?chat=ID`) and the school's page (`/school/ID`)."""
    return web.FileResponse(STATIC_DIR / "chats.html", headers={"Cache-Control": "no-cache"})


@routes.get("/school/{org}")
async def school(request: web.Request) -> web.StreamResponse:
    """A school's page, for its members only: 404 for anyone else."""
    from web.http.accounts import visible_organisation

    await visible_organisation(request, request.match_info["org"])
    return await chats(request)


@routes.get("/reset/{token}")
async def reset(request: web.Request) -> web.StreamResponse:
    """A password reset link's page: it asks /api/password-resets/{token} whom for."""
    # the token is in the address: no page it links to learns it from the Referer
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return web.FileResponse(STATIC_DIR / "reset.html", headers=headers)


@routes.get("/invite/{code}")
async def invite(request: web.Request) -> web.StreamResponse:
    """A chat's invite landing page: it asks /api/invites/{code} what to do next."""
    return web.FileResponse(STATIC_DIR / "invite.html", headers={"Cache-Control": "no-cache"})


@routes.get("/vendor/hls.js")
async def vendor_hls_js(request: web.Request) -> web.StreamResponse:
    """hls.js for the watch page (404 when node_modules is missing: the page then uses the
    browser's own HLS player, or says it cannot play)."""
    if not HLS_JS.is_file():
        raise web.HTTPNotFound(text="hls.js is not installed: run npm ci (./run does)")
    return web.FileResponse(
        HLS_JS,
        headers={"Content-Type": "text/javascript", "Cache-Control": "no-cache"},
    )


async def revalidate_static(request: web.Request, response: web.StreamResponse) -> None:
    """The client's modules must not mix versions after an upgrade: always revalidate."""
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    state = request.app[keys.READY]
    if not state.get("ready"):
        return web.json_response({"status": "starting or stopping"}, status=503)
    return web.json_response({"status": "ready", "rooms": len(request.app[keys.CALLS].rooms)})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
