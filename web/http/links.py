"""Join links over HTTP: following one, and a host regenerating or revoking it."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from aiohttp import web

from model.access import join_path, new_token
from web import keys
from web.guard import link

routes = web.RouteTableDef()

HOST_TOKEN_HEADER = "X-Parta-Host-Token"

_INVALID = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link not valid - parta</title><link rel="stylesheet" href="/static/shared/style.css"></head>
<body><main class="notice" data-testid="link-invalid">
<h1>This invite link does not work any more</h1>
<p>{reason} Ask your teacher for a new link.</p>
<p><a href="/">Go to parta</a></p></main></body></html>
"""


def _error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    request.app[keys.METRICS].http_errors.labels("/api/calls/{call}/link", str(status)).inc()
    return web.json_response({"error": code, "message": message}, status=status)


@routes.get("/join/{token}")
async def follow(request: web.Request) -> web.Response:
    """`/join/{token}`: on to the call's page with the token, or a page that says the link
    was revoked or replaced."""
    token = request.match_info["token"]
    call_id = request.app[keys.CALLS].call_for_link(token)
    if call_id is None and keys.CLUSTER in request.app:  # made on another node
        call_id = await request.app[keys.CALL_STORE].by_link(token)
    if call_id is None:
        request.app[keys.METRICS].http_errors.labels("/join/{token}", "404").inc()
        reason = "The host may have replaced it with a new one or turned it off."
        return web.Response(
            status=404,
            text=_INVALID.format(reason=escape(reason)),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )
    name = request.query.get("name")  # a name given with the link comes along
    extra = f"&name={quote(name)}" if name else ""
    raise web.HTTPFound(f"/call/{call_id}?link={quote(token)}{extra}")


async def _change(request: web.Request, make_new: bool) -> web.Response:
    calls = request.app[keys.CALLS]
    call_id = request.match_info["call"]
    token = request.headers.get(HOST_TOKEN_HEADER, "").strip() or None
    if token is None:
        return _error(request, 401, "unauthorized", f"send a host token in {HOST_TOKEN_HEADER}")
    if call_id not in calls.access or not calls.is_host(call_id, token):
        # a wrong token and a call that does not exist answer alike
        return _error(request, 404, "not_found", "no such call, or you are not its host")
    await calls.set_link(call_id, new_token() if make_new else None)
    path = join_path(calls.access[call_id].link)
    url = None if path is None else link(request, path)
    return web.json_response({"invite_link": path, "url": url})


@routes.post("/api/calls/{call}/link")
async def regenerate(request: web.Request) -> web.Response:
    """POST: a new join link; the old one stops working."""
    return await _change(request, True)


@routes.delete("/api/calls/{call}/link")
async def revoke(request: web.Request) -> web.Response:
    """DELETE: no join link works until a host makes a new one."""
    return await _change(request, False)
