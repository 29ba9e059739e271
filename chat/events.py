"""`GET /api/events`: a logged-in user's live chat events over a WebSocket.

Server to client: `message`, `message_edited`, `message_deleted`, `read`,
`notification` (`silent` outside the recipient's working hours), `chat_left`,
`resync` (events may have been lost on the way: read the chats again), `pong`, `error`.
Client to server: `{"type": "focus", "chat_id": id or null}` (the chat on screen: no
notifications for it) and `{"type": "ping"}`. A malformed message gets an `error` and
changes nothing.
"""

from __future__ import annotations

import json

from aiohttp import WSMsgType, web

from accounts.sessions import user_of
from signalling import keys

from .hub import Connection, Hub, encode


async def events(request: web.Request) -> web.WebSocketResponse:
    user = user_of(request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=16 * 1024)
    await ws.prepare(request)
    hub = request.app[keys.HUB]
    connection = Connection(user.id, ws)
    hub.add(connection)
    request.app[keys.SOCKETS].add(ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            reply = _handle(hub, connection, msg.data)
            if reply is not None:
                if reply.get("type") == "error":
                    request.app[keys.METRICS].protocol_errors.labels(reply["code"]).inc()
                connection.push(encode(reply))
    finally:
        hub.remove(connection)
        request.app[keys.SOCKETS].discard(ws)
        await connection.close()
    return ws


def _handle(hub: Hub, connection: Connection, text: str) -> dict[str, object] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return {"type": "error", "code": "bad_json", "message": "not JSON"}
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "ping":
        return {"type": "pong"}
    if kind == "focus":
        chat_id = data.get("chat_id")
        if chat_id is not None and not isinstance(chat_id, str):
            return {"type": "error", "code": "bad_message", "message": "chat_id is a string"}
        hub.set_focus(connection, chat_id)
        return None
    return {"type": "error", "code": "unknown_type", "message": f"unknown type {kind!r}"}
