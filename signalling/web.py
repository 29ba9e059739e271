"""Plain HTTP endpoints: the web client, health, readiness and metrics."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import keys
from .protocol import CALL_ID

STATIC_DIR = Path(__file__).parent / "static"


async def index(request: web.Request) -> web.StreamResponse:
    call = request.match_info.get("call")
    if call is not None and not CALL_ID.match(call):
        return web.json_response(
            {"error": "not_found", "message": "a call id is 1-64 of A-Z a-z 0-9 _ -"}, status=404
        )
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[keys.READY]
    if not state.get("ready"):
        return web.json_response({"status": "starting or stopping"}, status=503)
    return web.json_response({"status": "ready", "rooms": len(request.app[keys.CALLS].rooms)})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
