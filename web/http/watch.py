"""Watching a broadcast over HTTP: the watch page, its WHEP endpoint, the HLS files, and
the hosts' controls.

- `GET /watch/{token}`: the watch page. A public broadcast needs no account; one for a
  school's members needs a session of a member (anyone else gets 404, as if it did not
  exist; someone not logged in is sent to log in first).
- `GET /api/watch/{token}`: what the page needs (title, where to get WHEP and HLS,
  viewer counts).
- `POST /watch/{token}/whep` (an SDP offer) and `DELETE /watch/{token}/whep/{session}`:
  the session's secret, which only its `201` told, is what lets its viewer end it (RFC
  9725 allows a token within the session's URL; the page has no bearer token to send).
  The same WHEP implementation as `/whep/{call}` (web/http/whep.py); this door says who
  may watch (the watch link) and where (the call's stage, or an edge's relay of it).
- `GET /hls/{public|members}/{id}/{file}`: the playlists and segments, with cache headers
  fit for nginx or a CDN in front; `live.m3u8?_HLS_msn=&_HLS_part=` blocks until that
  part is there (Low-Latency HLS blocking playlist reload).
- `POST|DELETE /api/calls/{call}/broadcast` and `POST /api/calls/{call}/broadcast/link`:
  a host (X-Parta-Host-Token) starts, stops, or renews the watch link.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from broadcast.edges import SECRET_HEADER, OriginUnavailable, Remote
from broadcast.service import Broadcast, watch_path
from calls.protocol import ProtocolError
from calls.room import Room
from calls.viewers import Viewer
from model.access import session_of
from model.schema import Id, Schema
from sfu.sdp import SdpError
from web import keys
from web.auth import USER, user_of
from web.errors import Refused
from web.http import whep
from web.http.links import HOST_TOKEN_HEADER
from web.http.pages import STATIC_DIR
from web.validation import SDP, body, media, read_sdp

routes = web.RouteTableDef()

HLS_FILE = re.compile(r"^(init\.mp4|s\d{1,9}(\.\d{1,3})?\.m4s|live\.m3u8|index\.m3u8)$")
_SEGMENT_NUMBER = re.compile(r"\bs(\d+)(?:\.\d+)?\.m4s")
BLOCK_SECONDS = 3.0  # longest a blocking playlist reload is held (3 target durations)
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
}


async def _member(request: web.Request, org_id: str | None) -> bool:
    user = request.get(USER)
    if user is None or org_id is None:
        return False
    accounts = request.app[keys.ACCOUNTS]
    return any(p.org_id == org_id for p in await accounts.profiles_of(user.id))


async def _watchable(request: web.Request, broadcast: Watched | None) -> Watched:
    """The broadcast, if the caller may watch it; 404 otherwise (401 for the API and a
    log-in redirect for the page, when not logged in and it is for members)."""
    if broadcast is None or broadcast.ended:
        raise Refused(404, "not_found", "no such broadcast (it ended, or the link was replaced)")
    if broadcast.public or await _member(request, broadcast.org_id):
        return broadcast
    if request.get(USER) is None:
        if request.path.startswith("/watch/") and request.method == "GET":
            raise web.HTTPFound(f"/login?next={request.path}")
        raise Refused(401, "unauthorized", "this broadcast is for a school's members: log in")
    raise Refused(404, "not_found", "no such broadcast (it ended, or the link was replaced)")


Watched = TypeVar("Watched", bound=Broadcast | Remote)


def _by_token(request: web.Request) -> Broadcast | None:
    return request.app[keys.BROADCASTS].by_token.get(request.match_info["token"])


@routes.get("/watch/{token}")
async def page(request: web.Request) -> web.StreamResponse:
    await _watchable(request, await _anywhere(request))
    return web.FileResponse(STATIC_DIR / "pages/watch.html", headers={"Cache-Control": "no-cache"})


async def _anywhere(request: web.Request) -> Broadcast | Remote | None:
    """The broadcast of the watch link, hosted here or (a cluster) on another node."""
    local = _by_token(request)
    if local is None and keys.EDGES in request.app:
        return await request.app[keys.EDGES].by_token(request.match_info["token"])
    return local


@routes.get("/api/watch/{token}")
async def info(request: web.Request) -> web.Response:
    found = await _watchable(request, await _anywhere(request))
    if isinstance(found, Remote):  # watched through this node, hosted on another
        prefix = f"/hls/{'public' if found.public else 'members'}/{found.id}/"
        counted = await request.app[keys.EDGES].audience(found)
        return web.json_response(
            {
                "title": found.title,
                "public": found.public,
                "live": True,
                "started_at": found.started_at,
                "whep": f"{watch_path(found.token)}/whep",
                "hls": f"{prefix}live.m3u8",
                "hls_plain": f"{prefix}index.m3u8",
                # as its origin counted them last, on every node
                "viewers": None if counted is None else {"webrtc": counted[0], "hls": counted[1]},
            },
            headers={"Cache-Control": "no-cache"},
        )
    broadcast = found
    broadcasts = request.app[keys.BROADCASTS]
    room = request.app[keys.CALLS].rooms.get(broadcast.room_id)
    webrtc, hls = broadcasts.audience(broadcast)
    return web.json_response(
        {
            "title": room.title if room is not None else "",
            "public": broadcast.public,
            "live": not broadcast.ended,
            "started_at": broadcast.started_at.isoformat(),
            "whep": f"{watch_path(broadcast.token)}/whep",
            "hls": f"{broadcast.hls_prefix}live.m3u8",
            "hls_plain": f"{broadcast.hls_prefix}index.m3u8",
            "viewers": {"webrtc": webrtc, "hls": hls},
        },
        headers={"Cache-Control": "no-cache"},
    )


class _WatchDoor(whep.Door[Broadcast | Remote]):
    """WHEP at /watch/{token}/whep: authorised by the broadcast's watch link (and, for a
    school's members, a member's session), watching the call's stage, or on an edge node
    its relay of it. A session's secret Location is all its DELETE needs."""

    async def authorise(self, request: web.Request) -> Broadcast | Remote:
        local = _by_token(request)
        if local is None and keys.EDGES in request.app:
            # a broadcast another node hosts: served from this node's relay of it
            edges = request.app[keys.EDGES]
            return await _watchable(request, await edges.by_token(request.match_info["token"]))
        return await _watchable(request, local)

    async def seat(self, request: web.Request, authorised: Broadcast | Remote) -> whep.Seat:
        found = authorised

        def location(viewer: Viewer) -> str:
            return f"{watch_path(found.token)}/whep/{viewer.session}"

        if isinstance(found, Remote):
            return whep.Seat(await _relay_of(request, found), location)
        calls = request.app[keys.CALLS]
        room = calls.rooms.get(found.room_id)
        if room is None:
            raise Refused(404, "not_found", "the call is over")

        async def add_viewer(offer: str) -> tuple[Viewer, str]:
            return await room.add_viewer(offer, broadcast_id=found.id)

        return whep.Seat(add_viewer, location, release=lambda: calls.release_if_empty(room))

    def session(self, request: web.Request) -> whep.Session:
        broadcast = _by_token(request)
        session = request.match_info["viewer"]
        calls = request.app[keys.CALLS]
        room = calls.rooms.get(broadcast.room_id) if broadcast else None
        viewer = session_of(room.viewers.values(), session) if room else None
        if viewer is None and broadcast is None and keys.EDGES in request.app:
            viewer = request.app[keys.EDGES].viewer(session)  # an edge's
            if viewer is not None:
                return whep.Session(viewer)
        # a /whep/{call} viewer (no broadcast id) ends there, with its token; an edge's
        # pipe was never told its session
        if (
            viewer is None
            or room is None
            or broadcast is None
            or viewer.broadcast_id != broadcast.id
            or viewer.feeds_edge
        ):
            raise Refused(404, "not_found", "no such viewer")
        release_room = room
        return whep.Session(viewer, release=lambda: calls.release_if_empty(release_room))


_WHEP = _WatchDoor()


@routes.post("/watch/{token}/whep")
@media(SDP)
async def whep_watch(request: web.Request) -> web.Response:
    """A viewer's WHEP offer for the broadcast of this watch link."""
    return await whep.watch(request, _WHEP)


@routes.delete("/watch/{token}/whep/{viewer}")
async def whep_delete(request: web.Request) -> web.Response:
    return await whep.end(request, _WHEP)


# -- broadcasts across nodes (broadcast/edges.py) ------------------------------------------


async def _relay_of(
    request: web.Request, remote: Remote
) -> Callable[[str], Awaitable[tuple[Viewer, str]]]:
    """How a viewer of a broadcast another node hosts is seated here: on this node's
    relay of it (pulled once from the origin)."""
    edges = request.app[keys.EDGES]
    url = await request.app[keys.CLUSTER].url_of(remote.node)
    if url is None:
        raise Refused(503, "origin_gone", "the node broadcasting this call is gone; try again")

    async def add_viewer(offer: str) -> tuple[Viewer, str]:
        try:
            relay = await edges.relay(remote, url)
            return await relay.add_viewer(offer)
        except OriginUnavailable as exc:
            raise Refused(503, "origin_unavailable", str(exc)) from exc

    return add_viewer


@routes.post("/internal/edge/{call}")
@media(SDP)
async def edge_pipe(request: web.Request) -> web.Response:
    """`POST /internal/edge/{call}`: another node (an edge) pulls this call's broadcast
    stage, with the cluster's secret. It is one more WHEP viewer of the stage here."""
    edges = request.app.get(keys.EDGES)
    if edges is None or not await edges.admits(request.headers.get(SECRET_HEADER)):
        raise Refused(404, "not_found", "no such thing")
    room = request.app[keys.CALLS].rooms.get(request.match_info["call"])
    broadcast = request.app[keys.BROADCASTS].of(room) if room is not None else None
    if room is None or broadcast is None or broadcast.id != request.query.get("broadcast"):
        raise Refused(404, "not_found", "that broadcast is not on here")
    offer = await read_sdp(request)
    try:
        viewer, answer = await room.add_viewer(offer, broadcast_id=broadcast.id, feeds_edge=True)
    except SdpError as exc:
        raise Refused(400, "bad_sdp", str(exc)) from exc
    edges.add_pipe(viewer)
    return web.Response(status=201, text=answer, content_type=SDP)


@routes.get("/hls/{scope}/{id}/{file}")
async def hls(request: web.Request) -> web.StreamResponse:
    scope, broadcast_id, name = (request.match_info[k] for k in ("scope", "id", "file"))
    broadcast = request.app[keys.BROADCASTS].by_id.get(broadcast_id)
    if broadcast is None and keys.EDGES in request.app:
        return await _hls_elsewhere(request, scope, broadcast_id, name)
    if broadcast is None or scope != ("public" if broadcast.public else "members"):
        raise Refused(404, "not_found", "no such broadcast")
    if not broadcast.public and not await _member(request, broadcast.org_id):
        raise Refused(404, "not_found", "no such broadcast")
    if not HLS_FILE.match(name):
        raise Refused(404, "not_found", "no such file")
    if name == "live.m3u8":
        await _block(request, broadcast)
    path = broadcast.directory / name
    if not path.is_file():
        raise Refused(404, "not_found", "no such file (yet, or any more)")
    if name.endswith(".m3u8"):
        broadcast.hls.saw(_hls_viewer(request))
    broadcast.bytes_served["hls"] += path.stat().st_size
    return web.FileResponse(path, headers=_cache_headers(name, broadcast.public, request))


async def _hls_elsewhere(
    request: web.Request, scope: str, broadcast_id: str, name: str
) -> web.StreamResponse:
    """The HLS files of a broadcast another node hosts: every node shares the data
    directory (as uploads and recordings need), so they are read from there; a blocking
    playlist reload waits until the playlist names the part asked for."""
    remote = await request.app[keys.EDGES].by_id(broadcast_id)
    if remote is None or scope != ("public" if remote.public else "members"):
        raise Refused(404, "not_found", "no such broadcast")
    if not remote.public and not await _member(request, remote.org_id):
        raise Refused(404, "not_found", "no such broadcast")
    if not HLS_FILE.match(name):
        raise Refused(404, "not_found", "no such file")
    path = request.app[keys.BROADCASTS].directory / scope / broadcast_id / name
    if name == "live.m3u8":
        await _block_on_file(request, path)
    if not path.is_file():
        raise Refused(404, "not_found", "no such file (yet, or any more)")
    if name.endswith(".m3u8"):
        request.app[keys.EDGES].hls_audience(remote.id).saw(_hls_viewer(request))
    return web.FileResponse(path, headers=_cache_headers(name, remote.public, request))


def _hls_viewer(request: web.Request) -> str:
    """Who fetched a playlist: the watch page names itself, other players are told
    apart by address and user agent."""
    return request.query.get("viewer") or f"{request.remote}|{request.headers.get('User-Agent')}"


async def _block_on_file(request: web.Request, playlist: Path) -> None:
    """`_block` for a playlist another node writes: look for the part's name in it."""
    wanted = _wanted(request)
    if wanted is None:
        return
    msn, part = wanted
    # a part counts once listed, not when the preload hint names it (before it exists)
    listed = "#EXT-X-PART:" if part is not None else ""
    uri = f'URI="s{msn}.{part}.m4s"' if part is not None else f"s{msn}.m4s"
    deadline = time.monotonic() + BLOCK_SECONDS
    checked = False
    while True:
        with contextlib.suppress(OSError):
            text = await asyncio.to_thread(playlist.read_text)
            lines = text.splitlines()
            if "#EXT-X-ENDLIST" in text or any(
                line.startswith(listed) and (uri in line if listed else line == uri)
                for line in lines
            ):
                return
            if not checked:  # as the origin does: not a segment far ahead
                checked = True
                newest = max((int(n) for n in _SEGMENT_NUMBER.findall(text)), default=-1)
                if msn > newest + 2:
                    raise Refused(400, "bad_query", "that segment is too far in the future")
        if time.monotonic() > deadline:
            raise Refused(503, "not_yet", "the part asked for did not come in time")
        await asyncio.sleep(0.05)


def _wanted(request: web.Request) -> tuple[int, int | None] | None:
    """A blocking reload's `_HLS_msn` and `_HLS_part`; None for a plain request."""
    try:
        msn = int(request.query["_HLS_msn"]) if "_HLS_msn" in request.query else None
        part = int(request.query["_HLS_part"]) if "_HLS_part" in request.query else None
    except ValueError:
        raise Refused(400, "bad_query", "_HLS_msn and _HLS_part are numbers") from None
    if msn is None:
        if part is not None:
            raise Refused(400, "bad_query", "_HLS_part needs _HLS_msn")
        return None
    return msn, part


async def _block(request: web.Request, broadcast: Broadcast) -> None:
    """Hold a blocking playlist reload until the part it asks for is there."""
    asked = _wanted(request)
    if asked is None:
        return
    msn, part = asked
    wanted = (msn, part) if part is not None else (msn + 1, 0)  # a whole segment
    if wanted[0] > broadcast.latest[0] + 2:
        raise Refused(400, "bad_query", "that segment is too far in the future")
    deadline = time.monotonic() + BLOCK_SECONDS
    while broadcast.latest < wanted and not broadcast.ended:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Refused(503, "not_yet", "the part asked for did not come in time")
        try:
            await asyncio.wait_for(broadcast.changed.wait(), left)
        except TimeoutError:
            continue


def _cache_headers(name: str, public: bool, request: web.Request) -> dict[str, str]:
    scope = "public" if public else "private"
    suffix = Path(name).suffix
    headers = {"Content-Type": CONTENT_TYPES[suffix], "Access-Control-Allow-Origin": "*"}
    if suffix == ".m3u8":
        # a blocking reload's answer is final for its query: caches may keep it briefly
        blocking = "_HLS_msn" in request.query
        headers["Cache-Control"] = f"{scope}, max-age={6 if blocking else 1}"
    else:
        headers["Cache-Control"] = f"{scope}, max-age=86400, immutable"
    return headers


# -- the hosts' controls ------------------------------------------------------------------


def _hosted_room(request: web.Request) -> Room:
    calls = request.app[keys.CALLS]
    call_id = request.match_info["call"]
    token = request.headers.get(HOST_TOKEN_HEADER, "").strip() or None
    if token is None:
        raise Refused(401, "unauthorized", f"send a host token in {HOST_TOKEN_HEADER}")
    room = calls.hosted_room(call_id, token)
    if room is None:
        raise Refused(404, "not_found", "no live call of which you are a host")
    return room


class BroadcastStart(Schema):
    """`public`: anyone with the watch link; else the members of a school (`org_id`, by
    default the host's only school)."""

    public: bool = False
    org_id: Id | None = None


@routes.post("/api/calls/{call}/broadcast")
@body(BroadcastStart, optional=True)
async def start(request: web.Request, asked: BroadcastStart) -> web.Response:
    """A host (X-Parta-Host-Token) starts broadcasting the call."""
    room = _hosted_room(request)
    broadcasts = request.app[keys.BROADCASTS]
    if broadcasts.of(room) is not None:
        raise Refused(409, "already_broadcasting", "the call is being broadcast already")
    org_id = None if asked.public else await school_of(request, asked.org_id)
    broadcast = await broadcasts.start(room, None, public=asked.public, org_id=org_id)
    return web.json_response(
        {"broadcasting": True, "public": asked.public, "watch_link": watch_path(broadcast.token)},
        status=201,
    )


@routes.delete("/api/calls/{call}/broadcast")
async def stop(request: web.Request) -> web.Response:
    """A host stops the broadcast."""
    room = _hosted_room(request)
    broadcasts = request.app[keys.BROADCASTS]
    if broadcasts.of(room) is None:
        raise Refused(409, "not_broadcasting", "the call is not being broadcast")
    await broadcasts.stop(room, None)
    return web.json_response({"broadcasting": False})


@routes.post("/api/calls/{call}/broadcast/link")
async def renew_link(request: web.Request) -> web.Response:
    room = _hosted_room(request)
    try:
        token = request.app[keys.BROADCASTS].new_link(room, None)
    except ProtocolError as exc:
        raise Refused(409, "not_broadcasting", exc.message) from exc
    return web.json_response({"watch_link": watch_path(token)})


async def school_of(request: web.Request, org_id: str | None) -> str:
    """The school whose members may watch: the one named, which the caller belongs to,
    or else the caller's only school."""
    user = request.get(USER)
    if user is None:
        raise Refused(400, "no_school", "a broadcast for members needs a logged-in host")
    schools = [p.org_id for p in await request.app[keys.ACCOUNTS].profiles_of(user_of(request).id)]
    if org_id is not None:
        if org_id not in schools:
            raise Refused(400, "bad_field", "'org_id' is not a school you belong to")
        return org_id
    if len(schools) != 1:
        raise Refused(
            400,
            "bad_field",
            "name the school ('org_id') whose members may watch"
            if schools
            else "you belong to no school: broadcast publicly, or join one",
        )
    return schools[0]
