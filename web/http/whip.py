"""WHIP (RFC 9725) publishing and WHEP watching, for any WebRTC client.

A session's URL (the `Location` of its `201`) ends with a secret of its own, not the
peer id that everyone in the call sees, and its DELETE and PATCH must carry the bearer
token its POST did (RFC 9725: clients send it on every request to the session, and
session URLs should be hard to guess). Both are needed: the token alone may be the
call's invite link, which every participant holds, and the URL alone could leak where
URLs do. No token is `401`; a wrong token and an unknown session are the same `404`."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from calls.peer import Peer
from calls.protocol import CALL_ID, ProtocolError
from calls.room import Room
from calls.viewers import Viewer
from model.access import new_token, same_token, session_of
from web import keys
from web.errors import Refused, json_error
from web.http import whep
from web.placement import node_for
from web.validation import SDP, media, read_sdp

routes = web.RouteTableDef()

logger = logging.getLogger(__name__)

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Parta-Name",
    "Access-Control-Expose-Headers": "Location",
}


def error(
    request: web.Request, status: int, code: str, message: str, **headers: str
) -> web.Response:
    return json_error(request, status, code, message, headers={**CORS, **headers})


def _refused(request: web.Request, refused: Refused) -> web.Response:
    return error(request, refused.status, refused.code, refused.message, **refused.headers)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def _bearer_or_401(request: web.Request, message: str) -> str:
    token = bearer(request)
    if token is None:
        raise Refused(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})
    return token


def _session_token(request: web.Request) -> tuple[Room | None, str]:
    """The call's room here (if any) and the bearer token of a request to a session."""
    token = _bearer_or_401(request, "send the bearer token this session was opened with")
    return request.app[keys.CALLS].rooms.get(request.match_info["call"]), token


def _whip_session(request: web.Request) -> tuple[Room, Peer]:
    room, token = _session_token(request)
    peer = session_of(room.peers.values(), request.match_info["session"]) if room else None
    if room is None or peer is None or not same_token(token, peer.session_token):
        raise Refused(404, "not_found", "no such WHIP session")
    return room, peer


def _whep_session(request: web.Request) -> tuple[Room, Viewer]:
    room, token = _session_token(request)
    viewer = session_of(room.viewers.values(), request.match_info["session"]) if room else None
    # a watch page's viewer has no token: it ends at /watch/{token}/whep/{session}
    if room is None or viewer is None or not same_token(token, viewer.session_token):
        raise Refused(404, "not_found", "no such WHEP session")
    return room, viewer


def _authorise(request: web.Request) -> str:
    """The bearer token of a WHIP or WHEP offer (`401` without), for a call whose id
    could exist (`404` else): the call's join-link token, a host token or key, or the
    operator's token (`--bearer-token`)."""
    token = _bearer_or_401(
        request, "send the call's invite-link token or a host token as a bearer token"
    )
    if not CALL_ID.match(request.match_info["call"]):
        raise Refused(404, "not_found", "no such call")
    return token


async def _room(request: web.Request, token: str) -> Room:
    """The room of the call a WHIP or WHEP offer is for, once the offer was read.

    The call must be live or scheduled (the operator may open one), and one with a
    waiting room takes only hosts and the operator. In a cluster, a call on another
    node is answered with a redirect there (whep.Answered)."""
    operator = same_token(token, request.app[keys.CONFIG].bearer_token)
    call = request.match_info["call"]
    calls = request.app[keys.CALLS]
    url = await node_for(request.app, call)
    if url is not None:
        # in a cluster a call lives on one node: 307 keeps the method and the offer
        way = "whip" if request.path.startswith("/whip/") else "whep"
        request.app[keys.METRICS].cluster.redirects.labels(way).inc()
        raise whep.Answered(
            web.Response(
                status=307,
                headers={**CORS, "Location": url + request.path_qs},
                text=f"the call {call} is on {url}",
            )
        )
    try:
        # the operator (say, an encoder set up for an assembly) may open a call; others
        # reach calls that a host opened or that are scheduled
        room = calls.enter(
            call, link=token, host_token=token, operator=operator, may_create=operator
        )
    except ProtocolError as exc:
        if exc.code == "call_ended":  # a host ended the call a moment ago
            raise Refused(410, exc.code, exc.message) from None
        # the same answer as for a call that does not exist: a wrong token learns nothing
        raise Refused(404, "not_found", "no such call") from None
    if not room.moderation.takes_without_waiting(token, operator=operator):
        # a link holder would wait for a host to admit them; an HTTP request cannot wait
        await calls.release_if_empty(room)
        raise Refused(
            403,
            "waiting_room",
            "this call has a waiting room: use a host token, or join from the call page",
        )
    return room


@routes.post("/whip/{call}")
@media(SDP)
async def whip_publish(request: web.Request) -> web.Response:
    """WHIP (RFC 9725): publish into a call with an SDP offer and a bearer token."""
    try:
        token = _authorise(request)
        offer = await read_sdp(request)
        room = await _room(request, token)
    except whep.Answered as answered:
        return answered.response
    except Refused as refused:
        return _refused(request, refused)
    calls = request.app[keys.CALLS]
    name = request.headers.get("X-Parta-Name", "WHIP").strip()[:64] or "WHIP"
    peer = room.join(name, None, host_token=token)
    peer.session, peer.session_token = new_token(), token
    try:
        answer = await room.publish(peer, offer, ())
    except ProtocolError as exc:
        await room.leave(peer)
        await calls.release_if_empty(room)
        return error(request, 400, exc.code, exc.message)
    transport = peer.publish_transport
    if transport is not None:
        tasks = request.app[keys.BACKGROUND]

        def on_closed(_: object) -> None:
            # ICE consent lost or DTLS closed: the publisher is gone
            task = asyncio.create_task(_leave(room, peer.id, request.app))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        transport.on_closed.append(on_closed)
    return web.Response(
        status=201,
        text=answer,
        content_type=SDP,
        headers={**CORS, "Location": f"/whip/{room.id}/{peer.session}"},
    )


async def _leave(room: Room, peer_id: str, app: web.Application) -> None:
    peer = room.peers.get(peer_id)
    if peer is not None:
        await room.leave(peer)
    await app[keys.CALLS].release_if_empty(room)


@routes.delete("/whip/{call}/{session}")
async def whip_delete(request: web.Request) -> web.Response:
    try:
        room, peer = _whip_session(request)
    except Refused as refused:
        return _refused(request, refused)
    await _leave(room, peer.id, request.app)
    return web.Response(status=200, headers=CORS)


class _CallDoor(whep.Door[str]):
    """WHEP at /whep/{call}: authorised by a bearer token as WHIP is (the token is what
    the session's DELETE must send again), watching the call's stage."""

    headers = CORS

    async def authorise(self, request: web.Request) -> str:
        return _authorise(request)

    async def seat(self, request: web.Request, authorised: str) -> whep.Seat:
        room = await _room(request, authorised)
        calls = request.app[keys.CALLS]
        return whep.Seat(
            add_viewer=room.add_viewer,
            location=lambda viewer: f"/whep/{room.id}/{viewer.session}",
            session_token=authorised,
            release=lambda: calls.release_if_empty(room),
        )

    def session(self, request: web.Request) -> whep.Session:
        room, viewer = _whep_session(request)
        calls = request.app[keys.CALLS]
        return whep.Session(viewer, release=lambda: calls.release_if_empty(room))


_WHEP = _CallDoor()


@routes.post("/whep/{call}")
@media(SDP)
async def whep_watch(request: web.Request) -> web.Response:
    """WHEP: watch a call with an SDP offer and a bearer token."""
    return await whep.watch(request, _WHEP)


@routes.delete("/whep/{call}/{session}")
async def whep_delete(request: web.Request) -> web.Response:
    return await whep.end(request, _WHEP)


@routes.options("/whep/{call}/{session}")
@routes.options("/whep/{call}")
@routes.options("/whip/{call}/{session}")
@routes.options("/whip/{call}")
async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=CORS)


@routes.patch("/whep/{call}/{session}")
@routes.patch("/whip/{call}/{session}")
async def not_supported(request: web.Request) -> web.Response:
    # trickle ICE and ICE restarts (RFC 9725 PATCH) are not supported: candidates
    # travel in the offer and answer. Only the session's own client learns even that.
    try:
        if request.path.startswith("/whip/"):
            _whip_session(request)
        else:
            _whep_session(request)
    except Refused as refused:
        return _refused(request, refused)
    return error(
        request, 405, "method_not_allowed", "PATCH is not supported", Allow="DELETE, OPTIONS"
    )
