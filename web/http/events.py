"""`GET /api/events`: a logged-in user's live chat events over a WebSocket.

Server to client: `message`, `message_edited`, `message_deleted`, `read`,
`notification` (`silent` outside the recipient's working hours), `chat_left`,
`resync` (events may have been lost on the way: read the chats again), `pong`, `error`.
Client to server: `{"type": "focus", "chat_id": id or null}` (the chat on screen: no
notifications for it) and `{"type": "ping"}`. A malformed message gets an `error` and
changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import WSMsgType, web
from pydantic import Field, TypeAdapter, ValidationError

from chat.hub import Connection, Hub, encode
from model.schema import Id, Schema, problems
from web import keys
from web.auth import user_of
from web.outbox import Outbox

routes = web.RouteTableDef()

OUTBOX_LIMIT = 1024  # events queued for a client before it is cut off


@routes.get("/api/events")
async def events(request: web.Request) -> web.WebSocketResponse:
    user = user_of(request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    hub = request.app[keys.HUB]
    outbox = Outbox(ws, limit=OUTBOX_LIMIT, what=f"chat user {user.id}")
    connection = Connection(user.id, outbox)
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


class Ping(Schema):
    type: Literal["ping"]


class Focus(Schema):
    """The chat on screen (None: none): no notifications for it."""

    type: Literal["focus"]
    chat_id: Id | None = None


EVENTS_IN: TypeAdapter[Ping | Focus] = TypeAdapter(
    Annotated[Ping | Focus, Field(discriminator="type")]
)
MAX_MESSAGE_BYTES = 16 * 1024


def _handle(hub: Hub, connection: Connection, text: str) -> dict[str, object] | None:
    try:
        message = EVENTS_IN.validate_json(text)
    except ValidationError as exc:
        first = problems(exc, tagged=True)[0]
        code = {
            "json_invalid": "bad_json",
            "model_attributes_type": "bad_json",
            "model_type": "bad_json",
            "dict_type": "bad_json",
            "union_tag_invalid": "unknown_type",
        }.get(first["kind"], "bad_message")
        return {"type": "error", "code": code, "message": first["problem"]}
    if isinstance(message, Ping):
        return {"type": "pong"}
    hub.set_focus(connection, message.chat_id)
    return None
