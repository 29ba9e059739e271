"""The call protocol's one table: each message type a client sends, its model (in
calls/protocol.py), whether it is host-only, and its handler.

Parsing (the discriminated union of the table's models, in the table's order), dispatch
and the list of known types (`TYPES`) all come from `TABLE`, which `@handles` fills in.
PROTOCOL.md documents every type of it (tests/calls/test_protocol_table.py checks).

A handler gets the message's `Context` (the server's services and the socket's session)
and returns True when the session should end. Before it runs, `dispatch` checks what the
table says: that the client joined (all but `join` and `ping`), is not waiting (all but
`leave`), and is a host (host-only ones); a host action that was carried out is counted.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import Field, TypeAdapter, ValidationError

from calls.moderation import require_host
from calls.peer import Peer
from calls.protocol import (
    MAX_MESSAGE_BYTES,
    VERSION,
    Admit,
    AdmitAll,
    Deny,
    EndCall,
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
)
from calls.recordings import Recordings
from calls.room import Room
from calls.service import Calls
from metrics.events import Metrics
from model.access import new_token
from model.schema import Schema, problems
from store.accounts import AccountStore

# -- what handlers act through -----------------------------------------------------------


class Session(Protocol):
    """One participant's socket (web/http/ws.py): who it is, and how to reach them."""

    peer: Peer | None
    room: Room | None
    user_id: str | None  # the account behind the socket
    token: str | None  # its session's, for a ticket to another node

    def send(self, message: ServerMessage) -> None: ...

    def abort(self) -> None:
        """Close the socket after what is queued has been sent."""


class Broadcasting(Protocol):
    """Broadcasts (broadcast/service.py), which sit above calls/."""

    async def start(
        self, room: Room, actor: Peer | None, *, public: bool, org_id: str | None
    ) -> object: ...

    async def stop(self, room: Room, actor: Peer | None, *, quiet: bool = False) -> None: ...

    def new_link(self, room: Room, actor: Peer | None) -> str: ...


@dataclass(frozen=True)
class Services:
    """This node's services, as the handlers need them. `elsewhere`: in a cluster, sends
    the session to the node of the call (`redirect`) and answers True, or answers False
    when the call is served here."""

    calls: Calls
    recordings: Recordings
    broadcasts: Broadcasting
    accounts: AccountStore
    metrics: Metrics
    elsewhere: Callable[[Session, str], Awaitable[bool]]


@dataclass(frozen=True)
class Context:
    """One message's handling: the services and the socket's session."""

    services: Services
    session: Session

    @property
    def peer(self) -> Peer:
        """The participant (dispatch checked they joined, but for `join` and `ping`)."""
        assert self.session.peer is not None
        return self.session.peer

    @property
    def room(self) -> Room:
        assert self.session.room is not None
        return self.session.room


# -- the table ---------------------------------------------------------------------------

M = TypeVar("M", bound=Schema)
Handler = Callable[[Context, Any], Awaitable[bool | None]]


@dataclass(frozen=True)
class Entry:
    kind: str  # the message's `type`
    model: type[Schema]
    handler: Handler
    host_only: bool = False
    before_join: bool = False  # sent before `join` too (it handles that itself)
    while_waiting: bool = False  # accepted from the waiting room


TABLE: dict[str, Entry] = {}  # type -> entry, in the order the union tries them
_BY_MODEL: dict[type[Schema], Entry] = {}


def handles(
    model: type[M],
    *,
    host_only: bool = False,
    before_join: bool = False,
    while_waiting: bool = False,
) -> Callable[[Callable[[Context, M], Awaitable[bool | None]]], Handler]:
    """Registers the decorated function as the handler of `model`'s type."""

    def register(handler: Callable[[Context, M], Awaitable[bool | None]]) -> Handler:
        kind = model.model_fields["type"].default
        assert isinstance(kind, str) and kind not in TABLE, kind
        entry = Entry(kind, model, handler, host_only, before_join, while_waiting)
        TABLE[kind] = _BY_MODEL[model] = entry
        return handler

    return register


# -- the handlers, in the order of the table ----------------------------------------------------


@handles(Join, before_join=True)
async def _join(ctx: Context, message: Join) -> bool:
    session = ctx.session
    if session.peer is not None:
        raise ProtocolError("out_of_order", "already joined", "join")
    if message.version != VERSION:
        raise ProtocolError("unsupported_version", f"this server speaks version {VERSION}", "join")
    if await ctx.services.elsewhere(session, message.call):
        return True
    room = ctx.services.calls.enter(message.call, link=message.link, host_token=message.host_token)
    peer = room.join(
        message.name,
        session.send,
        on_stuck=session.abort,
        host_token=message.host_token,
        user_id=session.user_id,
    )
    session.peer, session.room = peer, room
    return False


@handles(Publish)
async def _publish(ctx: Context, message: Publish) -> None:
    answer = await ctx.room.publish(ctx.peer, message.sdp, message.tracks)
    ctx.session.send(PublishAnswer(sdp=answer))


@handles(SubscribeAnswer)
async def _subscribe_answer(ctx: Context, message: SubscribeAnswer) -> None:
    subscriber = ctx.peer.subscriber
    if subscriber is None:
        raise ProtocolError("out_of_order", "no subscribe offer is pending", message.type)
    await subscriber.on_answer(message.sdp)


@handles(Mute)
async def _mute(ctx: Context, message: Mute) -> None:
    ctx.room.media.mute(ctx.peer, message.source, message.muted)


@handles(Leave, while_waiting=True)
async def _leave(ctx: Context, message: Leave) -> bool:
    return True


@handles(Ping, before_join=True)
async def _ping(ctx: Context, message: Ping) -> None:
    ctx.session.send(Pong())


@handles(MuteParticipant, host_only=True)
async def _mute_participant(ctx: Context, message: MuteParticipant) -> None:
    ctx.room.moderation.mute_participant(ctx.peer, message.peer_id, message.source, message.lock)


@handles(UnlockParticipant, host_only=True)
async def _unlock_participant(ctx: Context, message: UnlockParticipant) -> None:
    ctx.room.moderation.unlock_participant(message.peer_id, message.source)


@handles(RemoveParticipant, host_only=True)
async def _remove_participant(ctx: Context, message: RemoveParticipant) -> None:
    await ctx.room.moderation.remove_participant(ctx.peer, message.peer_id)


@handles(SetRole, host_only=True)
async def _set_role(ctx: Context, message: SetRole) -> None:
    ctx.room.moderation.set_role(message.peer_id, message.role)


@handles(EndCall, host_only=True)
async def _end_call(ctx: Context, message: EndCall) -> bool:
    await ctx.services.recordings.stop(ctx.room, None, quiet=True)
    await ctx.room.end(ctx.peer)
    return True


@handles(SetWaitingRoom, host_only=True)
async def _set_waiting_room(ctx: Context, message: SetWaitingRoom) -> None:
    ctx.room.moderation.set_waiting_room(message.enabled)


@handles(Admit, host_only=True)
async def _admit(ctx: Context, message: Admit) -> None:
    ctx.room.moderation.admit(message.peer_id)


@handles(Deny, host_only=True)
async def _deny(ctx: Context, message: Deny) -> None:
    ctx.room.moderation.deny(message.peer_id)


@handles(AdmitAll, host_only=True)
async def _admit_all(ctx: Context, message: AdmitAll) -> None:
    ctx.room.moderation.admit_all()


@handles(StartBroadcast, host_only=True)
async def _start_broadcast(ctx: Context, message: StartBroadcast) -> None:
    org_id = None if message.public else await _school(ctx, message.org_id)
    await ctx.services.broadcasts.start(ctx.room, ctx.peer, public=message.public, org_id=org_id)


@handles(StopBroadcast, host_only=True)
async def _stop_broadcast(ctx: Context, message: StopBroadcast) -> None:
    await ctx.services.broadcasts.stop(ctx.room, ctx.peer)


@handles(NewWatchLink, host_only=True)
async def _new_watch_link(ctx: Context, message: NewWatchLink) -> None:
    ctx.services.broadcasts.new_link(ctx.room, ctx.peer)


@handles(NewLink, host_only=True)
async def _new_link(ctx: Context, message: NewLink) -> None:
    await ctx.services.calls.set_link(ctx.room.id, new_token())


@handles(RevokeLink, host_only=True)
async def _revoke_link(ctx: Context, message: RevokeLink) -> None:
    await ctx.services.calls.set_link(ctx.room.id, None)


@handles(StartRecording, host_only=True)
async def _start_recording(ctx: Context, message: StartRecording) -> None:
    await ctx.services.recordings.start(ctx.room, ctx.peer)


@handles(StopRecording, host_only=True)
async def _stop_recording(ctx: Context, message: StopRecording) -> None:
    await ctx.services.recordings.stop(ctx.room, ctx.peer)


async def _school(ctx: Context, org_id: str | None) -> str:
    """The school whose members may watch a broadcast: the one named (the host's own),
    or the host's only school."""
    peer = ctx.peer
    schools = (
        [p.org_id for p in await ctx.services.accounts.profiles_of(peer.user_id)]
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


# -- what comes of the table ----------------------------------------------------------------

TYPES: tuple[str, ...] = tuple(TABLE)
# every model of the table, in its order: `get_args(ClientMessage)` lists them
ClientMessage: Any = functools.reduce(operator.or_, (entry.model for entry in TABLE.values()))
CLIENT_MESSAGES: TypeAdapter[Schema] = TypeAdapter(
    Annotated[ClientMessage, Field(discriminator="type")]
)
_ENVELOPE = re.compile(rb'"type"\s*:\s*"([a-z_]{1,32})"')


def parse_client_message(text: str | bytes) -> Schema:
    """Parse one WebSocket text message from a participant: one of the table's models."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("bad_message", "message too large")
    try:
        return CLIENT_MESSAGES.validate_json(raw)
    except ValidationError as exc:
        raise _refused(exc, raw) from None


def _refused(exc: ValidationError, raw: bytes) -> ProtocolError:
    found = problems(exc, tagged=True)
    first = found[0]
    kind = first["kind"]
    named = _ENVELOPE.search(raw[:4096])
    what = named.group(1).decode() if named else None
    if kind in ("json_invalid", "model_type", "model_attributes_type", "dict_type") or (
        kind == "union_tag_invalid" and not raw.lstrip().startswith(b"{")
    ):
        message = first["problem"] if kind == "json_invalid" else "a message must be a JSON object"
        return ProtocolError("bad_json", message)
    if kind == "union_tag_invalid":
        return ProtocolError("unknown_type", first["problem"], what)
    if kind == "union_tag_not_found":
        return ProtocolError("bad_message", "missing 'type'")
    code = "bad_sdp" if first["field"].endswith("sdp") else "bad_message"
    return ProtocolError(code, f"{what or 'message'}: {first['problem']}", what)


async def dispatch(services: Services, session: Session, message: Schema) -> bool:
    """Act on one parsed message, as the table says; True when the session should end.
    Raises ProtocolError for a message not acted on."""
    entry = _BY_MODEL[type(message)]
    peer = session.peer
    if not entry.before_join:
        if peer is None or session.room is None:
            raise ProtocolError("out_of_order", "send 'join' first", entry.kind)
        if peer.waiting and not entry.while_waiting:
            raise ProtocolError("out_of_order", "you are in the waiting room", entry.kind)
        if entry.host_only:
            require_host(peer, entry.kind)
    ends = await entry.handler(Context(services, session), message)
    if entry.host_only:
        # only reached when the action was allowed and carried out
        services.metrics.host_actions.labels(entry.kind).inc()
    return bool(ends)
