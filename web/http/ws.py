"""The call protocol's WebSocket endpoint: one reader task, one writer queue per socket."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from calls.peer import Peer
from calls.protocol import (
    MAX_MESSAGE_BYTES,
    VERSION,
    Admit,
    AdmitAll,
    ClientMessage,
    Deny,
    EndCall,
    Error,
    Join,
    Leave,
    Mute,
    MuteParticipant,
    NewLink,
    NewWatchLink,
    Ping,
    Pong,
    ProtocolError,
    Publish,
    PublishAnswer,
    Redirect,
    RemoveParticipant,
    RevokeLink,
    ServerMessage,
    SetRole,
    SetWaitingRoom,
    StartBroadcast,
    StartRecording,
    StopBroadcast,
    StopRecording,
    SubscribeAnswer,
    UnlockParticipant,
    encode,
    parse_client_message,
)
from calls.room import Room
from model.access import new_token
from web import keys
from web.auth import TOKEN, user_of
from web.outbox import Outbox
from web.placement import node_for

routes = web.RouteTableDef()

logger = logging.getLogger(__name__)

HOST_ACTIONS = (
    MuteParticipant,
    UnlockParticipant,
    SetRole,
    RemoveParticipant,
    EndCall,
    SetWaitingRoom,
    Admit,
    Deny,
    AdmitAll,
    NewLink,
    RevokeLink,
    StartRecording,
    StopRecording,
    StartBroadcast,
    StopBroadcast,
    NewWatchLink,
)

# A client that lets this many messages pile up is not reading: it is cut off.
OUTBOX_LIMIT = 512


class _Session:
    """One WebSocket: the reader runs in the handler, the outbox's writer sends."""

    def __init__(
        self, ws: web.WebSocketResponse, user_id: str | None = None, token: str | None = None
    ) -> None:
        self.ws = ws
        self.user_id = user_id
        self.token = token  # the session's, for a ticket to another node
        self.outbox = Outbox(ws, limit=OUTBOX_LIMIT, what=f"call participant {user_id}")
        self.peer: Peer | None = None
        self.room: Room | None = None

    def send(self, message: ServerMessage) -> None:
        self.outbox.push(encode(message))

    def abort(self) -> None:
        """Close the socket after what is queued has been sent."""
        self.outbox.finish()

    async def close(self) -> None:
        await self.outbox.close()


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    metrics = app[keys.METRICS]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    metrics.websocket_sessions.inc()
    session = _Session(ws, user_of(request).id, request.get(TOKEN))
    sockets = app[keys.SOCKETS]
    sockets.add(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                text = msg.data
            elif msg.type == WSMsgType.BINARY:
                text = None
            else:
                break
            try:
                if text is None:
                    raise ProtocolError("bad_json", "binary messages are not part of the protocol")
                message = parse_client_message(text)
                if await _handle(app, session, message):
                    break
            except ProtocolError as exc:
                metrics.protocol_errors.labels(exc.code).inc()
                session.send(Error(code=exc.code, message=exc.message, in_reply_to=exc.in_reply_to))
            except Exception:
                # our fault, not the client's: log it, tell the client, keep the call
                logger.exception("handling a call-protocol message")
                metrics.protocol_errors.labels("internal").inc()
                session.send(
                    Error(code="internal", message="the server failed to handle that message")
                )
    finally:
        # shielded: a handler cancelled because the client vanished still cleans up
        await asyncio.shield(_depart(app, session))
        await session.close()
        sockets.discard(ws)
    return ws


async def close_all(app: web.Application) -> None:
    """Shutting down: every client is told "going away" (1001) and reconnects later."""
    sockets: set[web.WebSocketResponse] = app[keys.SOCKETS]
    await asyncio.gather(
        *(
            ws.close(code=WSCloseCode.GOING_AWAY, message=b"server restarting")
            for ws in list(sockets)
        ),
        return_exceptions=True,
    )


async def _handle(app: web.Application, session: _Session, message: ClientMessage) -> bool:
    """Act on one message; True when the session should end."""
    if isinstance(message, Ping):
        session.send(Pong())
        return False
    peer, room = session.peer, session.room
    if isinstance(message, Join):
        if peer is not None:
            raise ProtocolError("out_of_order", "already joined", "join")
        if message.version != VERSION:
            raise ProtocolError(
                "unsupported_version", f"this server speaks version {VERSION}", "join"
            )
        if await _elsewhere(app, session, message.call):
            return True
        room = app[keys.CALLS].enter(message.call, link=message.link, host_token=message.host_token)
        peer = room.join(
            message.name,
            session.send,
            on_stuck=session.abort,
            host_token=message.host_token,
            user_id=session.user_id,
        )
        session.peer, session.room = peer, room
        return False
    if peer is None or room is None:
        raise ProtocolError("out_of_order", "send 'join' first", message.type)
    if peer.waiting and not isinstance(message, Leave):
        raise ProtocolError("out_of_order", "you are in the waiting room", message.type)
    if isinstance(message, Publish):
        answer = await room.publish(peer, message.sdp, message.tracks)
        session.send(PublishAnswer(sdp=answer))
    elif isinstance(message, SubscribeAnswer):
        if peer.subscriber is None:
            raise ProtocolError("out_of_order", "no subscribe offer is pending", message.type)
        await peer.subscriber.on_answer(message.sdp)
    elif isinstance(message, Mute):
        room.mute(peer, message.source, message.muted)
    elif isinstance(message, Leave):
        return True
    elif isinstance(message, MuteParticipant):
        room.mute_participant(peer, message.peer_id, message.source, message.lock)
    elif isinstance(message, UnlockParticipant):
        room.unlock_participant(peer, message.peer_id, message.source)
    elif isinstance(message, SetRole):
        room.set_role(peer, message.peer_id, message.role)
    elif isinstance(message, RemoveParticipant):
        await room.remove_participant(peer, message.peer_id)
    elif isinstance(message, EndCall):
        room.require_host(peer, "end_call")
        await app[keys.RECORDINGS].stop(room, None, quiet=True)
        await room.end(peer)
        app[keys.METRICS].host_actions.labels(message.type).inc()
        return True
    elif isinstance(message, SetWaitingRoom):
        room.set_waiting_room(peer, message.enabled)
    elif isinstance(message, Admit):
        room.admit(peer, message.peer_id)
    elif isinstance(message, AdmitAll):
        room.admit_all(peer)
    elif isinstance(message, Deny):
        room.deny(peer, message.peer_id)
    elif isinstance(message, StartRecording):
        await app[keys.RECORDINGS].start(room, peer)
    elif isinstance(message, StopRecording):
        await app[keys.RECORDINGS].stop(room, peer)
    elif isinstance(message, StartBroadcast):
        room.require_host(peer, message.type)
        org_id = None if message.public else await _school(app, peer, message.org_id)
        await app[keys.BROADCASTS].start(room, peer, public=message.public, org_id=org_id)
    elif isinstance(message, StopBroadcast):
        await app[keys.BROADCASTS].stop(room, peer)
    elif isinstance(message, NewWatchLink):
        app[keys.BROADCASTS].new_link(room, peer)
    elif isinstance(message, NewLink | RevokeLink):
        room.require_host(peer, message.type)
        token = new_token() if isinstance(message, NewLink) else None
        await app[keys.CALLS].set_link(room.id, token)
    if isinstance(message, HOST_ACTIONS):
        # only reached when the action was allowed and carried out
        app[keys.METRICS].host_actions.labels(message.type).inc()
    return False


async def _elsewhere(app: web.Application, session: _Session, call_id: str) -> bool:
    """In a cluster, a call lives on one node: placed on the least loaded one when it
    starts. Whoever reaches another node is sent there (`redirect`)."""
    url = await node_for(app, call_id)
    if url is None:
        return False
    ticket = await app[keys.CLUSTER].ticket(session.token) if session.token else None
    session.send(Redirect(node=url, call=call_id, ticket=ticket))
    app[keys.METRICS].cluster.redirects.labels("ws").inc()
    return True


async def _school(app: web.Application, peer: Peer, org_id: str | None) -> str:
    """The school whose members may watch a broadcast: the one named (the host's own),
    or the host's only school."""
    schools = (
        [p.org_id for p in await app[keys.ACCOUNTS].profiles_of(peer.user_id)]
        if peer.user_id
        else []
    )
    if org_id is not None and org_id in schools:
        return org_id
    if org_id is None and len(schools) == 1:
        return schools[0]
    message = (
        "org_id is not a school you belong to"
        if org_id is not None
        else "name the school (org_id) whose members may watch"
        if schools
        else "you belong to no school: broadcast publicly, or join one"
    )
    raise ProtocolError("bad_message", message, "start_broadcast")


async def _depart(app: web.Application, session: _Session) -> None:
    peer, room = session.peer, session.room
    session.peer = session.room = None
    if peer is None or room is None:
        return
    try:
        await room.leave(peer)
    finally:
        await app[keys.CALLS].release_if_empty(room)
