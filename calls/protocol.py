"""The call protocol's messages: one dataclass each (see PROTOCOL.md).

What a client sends is a pydantic model each (the same validation layer as the HTTP
API's bodies, web/validation.py): strict about what it uses and lenient about
what it ignores. Unknown fields are dropped; missing, mistyped or out-of-bounds fields
raise ProtocolError, which the WebSocket handler turns into an `error` message. Which
models there are, in which order they are tried, and what handles each is the table of
calls/dispatch.py, which parses too. What the server sends is a plain dataclass each.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from model.schema import INT32, Id, Schema, Token, chars

VERSION = 1
CALL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_MESSAGE_BYTES = 256 * 1024


class ProtocolError(Exception):
    """A message the server does not act on; `code` is one of PROTOCOL.md's codes."""

    def __init__(self, code: str, message: str, in_reply_to: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.in_reply_to = in_reply_to


# -- client to server ---------------------------------------------------------------
# pydantic models (web/validation.py): strict types, bounded sizes; unknown
# fields are dropped


Peer = Id
Source = Literal["microphone", "camera", "screen"]
SOURCES: tuple[str, ...] = get_args(Source)
Sdp = Annotated[str, StringConstraints(max_length=MAX_MESSAGE_BYTES)]


def _sdp(value: str) -> str:
    if not value.startswith("v=0"):
        raise ValueError("is not an SDP description")
    return value


def _call_id(value: str) -> str:
    if not CALL_ID.match(value):
        raise ValueError("must be 1-64 of A-Z a-z 0-9 _ -")
    return value


class PublishedTrack(Schema):
    mid: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    source: Source


class Join(Schema):
    type: Literal["join"] = "join"
    version: Annotated[int, Field(ge=0, le=INT32)]
    call: Annotated[str, AfterValidator(_call_id)]
    name: Annotated[str, chars(64)]
    host_token: Token | None = None
    link: Token | None = None  # the join link's token


class Publish(Schema):
    type: Literal["publish"] = "publish"
    sdp: Annotated[Sdp, AfterValidator(_sdp)]
    tracks: Annotated[tuple[PublishedTrack, ...], Field(max_length=16)]

    @model_validator(mode="after")
    def _mids_once(self) -> Publish:
        if len({t.mid for t in self.tracks}) != len(self.tracks):
            raise ValueError("a mid is listed twice")
        return self


class SubscribeAnswer(Schema):
    type: Literal["subscribe_answer"] = "subscribe_answer"
    sdp: Annotated[Sdp, AfterValidator(_sdp)]


class Mute(Schema):
    type: Literal["mute"] = "mute"
    source: Source
    muted: bool


class Leave(Schema):
    type: Literal["leave"] = "leave"


class Ping(Schema):
    type: Literal["ping"] = "ping"


def _not_screen(value: str) -> str:
    if value == "screen":
        raise ValueError("a screen share is stopped, not muted")
    return value


class MuteParticipant(Schema):
    """A host turns off someone's microphone or camera, optionally locking it off."""

    type: Literal["mute_participant"] = "mute_participant"
    peer_id: Peer
    source: Annotated[Source, AfterValidator(_not_screen)]
    lock: bool = False


class UnlockParticipant(Schema):
    """A host lets someone turn a source back on (they do so themselves)."""

    type: Literal["unlock_participant"] = "unlock_participant"
    peer_id: Peer
    source: Source


class RemoveParticipant(Schema):
    type: Literal["remove_participant"] = "remove_participant"
    peer_id: Peer


class SetRole(Schema):
    type: Literal["set_role"] = "set_role"
    peer_id: Peer
    role: Literal["cohost", "participant"]


class EndCall(Schema):
    type: Literal["end_call"] = "end_call"


class NewLink(Schema):
    """A host regenerates the call's join link: the old one stops working."""

    type: Literal["new_link"] = "new_link"


class RevokeLink(Schema):
    """A host revokes the call's join link: only hosts can come in until a new one."""

    type: Literal["revoke_link"] = "revoke_link"


class StartRecording(Schema):
    type: Literal["start_recording"] = "start_recording"


class StopRecording(Schema):
    type: Literal["stop_recording"] = "stop_recording"


class StartBroadcast(Schema):
    """A host broadcasts the call: `public` (anyone with the watch link) or only to the
    members of a school (`org_id`; by default the host's own school)."""

    type: Literal["start_broadcast"] = "start_broadcast"
    public: bool
    org_id: Id | None = None


class StopBroadcast(Schema):
    type: Literal["stop_broadcast"] = "stop_broadcast"


class NewWatchLink(Schema):
    """A host replaces the broadcast's watch link: the old one lets nobody new in."""

    type: Literal["new_watch_link"] = "new_watch_link"


class SetWaitingRoom(Schema):
    type: Literal["set_waiting_room"] = "set_waiting_room"
    enabled: bool


class Admit(Schema):
    type: Literal["admit"] = "admit"
    peer_id: Peer


class Deny(Schema):
    type: Literal["deny"] = "deny"
    peer_id: Peer


class AdmitAll(Schema):
    type: Literal["admit_all"] = "admit_all"


ROLES = ("host", "cohost", "participant")


# -- server to client ---------------------------------------------------------------


@dataclass(frozen=True)
class TrackInfo:
    id: str
    kind: str
    source: str
    muted: bool


@dataclass(frozen=True)
class PeerInfo:
    id: str
    name: str
    tracks: list[TrackInfo] = field(default_factory=list)
    role: str = "participant"
    locked: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubscribedTrack:
    mid: str
    track_id: str
    peer_id: str
    kind: str
    source: str


@dataclass(frozen=True)
class Joined:
    type: ClassVar[str] = "joined"
    call: str
    peer_id: str
    peers: list[PeerInfo]
    ice_servers: list[dict[str, Any]]
    active_speaker: str | None
    role: str = "participant"
    host_token: str | None = None
    waiting_room: bool = False
    title: str = ""
    invite_link: str | None = None  # hosts only: the path of the call's join link
    recording: bool = False
    broadcasting: bool = False
    broadcast_public: bool = False
    watch_link: str | None = None  # hosts only: the broadcast's watch link
    version: int = VERSION


@dataclass(frozen=True)
class PublishAnswer:
    type: ClassVar[str] = "publish_answer"
    sdp: str


@dataclass(frozen=True)
class SubscribeOffer:
    type: ClassVar[str] = "subscribe_offer"
    sdp: str
    tracks: list[SubscribedTrack]


@dataclass(frozen=True)
class PeerJoined:
    type: ClassVar[str] = "peer_joined"
    peer: PeerInfo


@dataclass(frozen=True)
class PeerUpdated:
    type: ClassVar[str] = "peer_updated"
    peer: PeerInfo


@dataclass(frozen=True)
class PeerLeft:
    type: ClassVar[str] = "peer_left"
    peer_id: str


@dataclass(frozen=True)
class ActiveSpeaker:
    type: ClassVar[str] = "active_speaker"
    peer_id: str | None


@dataclass(frozen=True)
class Pong:
    type: ClassVar[str] = "pong"


@dataclass(frozen=True)
class Error:
    type: ClassVar[str] = "error"
    code: str
    message: str
    in_reply_to: str | None = None


@dataclass(frozen=True)
class MutedByHost:
    """Sent to the participant a host muted: turn the source off in the UI."""

    type: ClassVar[str] = "muted_by_host"
    source: str
    locked: bool
    by: str


@dataclass(frozen=True)
class RoleChanged:
    """Sent to a participant a host made co-host or participant again."""

    type: ClassVar[str] = "role_changed"
    role: str
    host_token: str | None
    invite_link: str | None = None


@dataclass(frozen=True)
class RecordingState:
    """To everyone in the call: recording started (`on`) or stopped, and by whom."""

    type: ClassVar[str] = "recording"
    on: bool
    by: str | None


@dataclass(frozen=True)
class BroadcastState:
    """To everyone in the call: it is being broadcast (`on`) or no longer, by whom, and
    to whom (`public`: anyone with the link; else the school's members)."""

    type: ClassVar[str] = "broadcast"
    on: bool
    by: str | None
    public: bool = False


@dataclass(frozen=True)
class BroadcastLink:
    """To hosts: the broadcast's watch link (None when it stopped)."""

    type: ClassVar[str] = "broadcast_link"
    watch_link: str | None
    public: bool = False


@dataclass(frozen=True)
class BroadcastViewers:
    """To hosts, when the numbers change: viewers watching, by tier."""

    type: ClassVar[str] = "broadcast_viewers"
    webrtc: int
    hls: int


@dataclass(frozen=True)
class Redirect:
    """The call is hosted by another node of the cluster: connect to `node` (its base
    URL; the WebSocket is `{node}/ws`) and send the same `join` there. The socket closes."""

    type: ClassVar[str] = "redirect"
    node: str
    call: str
    # a browser logs in there with it (`{node}/ws?ticket=...`): its cookie belongs to
    # this node's host name; once, within a minute
    ticket: str | None = None


@dataclass(frozen=True)
class LinkChanged:
    """Sent to hosts when the join link was regenerated or (None) revoked."""

    type: ClassVar[str] = "link_changed"
    invite_link: str | None


@dataclass(frozen=True)
class Removed:
    type: ClassVar[str] = "removed"
    by: str


@dataclass(frozen=True)
class Waiting:
    type: ClassVar[str] = "waiting"
    call: str
    title: str
    peer_id: str
    message: str


@dataclass(frozen=True)
class Denied:
    type: ClassVar[str] = "denied"
    message: str


@dataclass(frozen=True)
class WaitingPerson:
    peer_id: str
    name: str


@dataclass(frozen=True)
class WaitingList:
    type: ClassVar[str] = "waiting_list"
    enabled: bool
    waiting: list[WaitingPerson]


@dataclass(frozen=True)
class CallEnded:
    type: ClassVar[str] = "call_ended"
    by: str


ServerMessage = (
    Redirect
    | RecordingState
    | BroadcastState
    | BroadcastLink
    | BroadcastViewers
    | LinkChanged
    | Waiting
    | Denied
    | WaitingList
    | MutedByHost
    | RoleChanged
    | Removed
    | CallEnded
    | Joined
    | PublishAnswer
    | SubscribeOffer
    | PeerJoined
    | PeerUpdated
    | PeerLeft
    | ActiveSpeaker
    | Pong
    | Error
)


def encode(message: ServerMessage) -> str:
    return json.dumps({"type": message.type, **asdict(message)}, separators=(",", ":"))
