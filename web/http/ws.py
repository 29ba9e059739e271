"""The call protocol's WebSocket endpoint: one reader task, one writer queue per socket."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from calls.dispatch import Services, Session, dispatch, parse_client_message
from calls.peer import Peer
from calls.protocol import MAX_MESSAGE_BYTES, Error, ProtocolError, Redirect, ServerMessage, encode
from calls.room import Room
from web import keys
from web.auth import TOKEN, user_of
from web.outbox import Outbox
from web.placement import node_for

routes = web.RouteTableDef()

logger = logging.getLogger(__name__)

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
    services = _services(app)
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
                if await dispatch(services, session, message):
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


def _services(app: web.Application) -> Services:
    async def elsewhere(session: Session, call_id: str) -> bool:
        return await _elsewhere(app, session, call_id)

    return Services(
        calls=app[keys.CALLS],
        recordings=app[keys.RECORDINGS],
        broadcasts=app[keys.BROADCASTS],
        accounts=app[keys.ACCOUNTS],
        metrics=app[keys.METRICS],
        elsewhere=elsewhere,
    )


async def _elsewhere(app: web.Application, session: Session, call_id: str) -> bool:
    """In a cluster, a call lives on one node: placed on the least loaded one when it
    starts. Whoever reaches another node is sent there (`redirect`)."""
    url = await node_for(app, call_id)
    if url is None:
        return False
    ticket = await app[keys.CLUSTER].ticket(session.token) if session.token else None
    session.send(Redirect(node=url, call=call_id, ticket=ticket))
    app[keys.METRICS].cluster.redirects.labels("ws").inc()
    return True


async def _depart(app: web.Application, session: _Session) -> None:
    peer, room = session.peer, session.room
    session.peer = session.room = None
    if peer is None or room is None:
        return
    try:
        await room.leave(peer)
    finally:
        await app[keys.CALLS].release_if_empty(room)
