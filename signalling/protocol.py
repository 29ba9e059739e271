"""The call protocol's messages: one dataclass each (see PROTOCOL.md).

Parsing is strict about what it uses and lenient about what it ignores: unknown
fields are dropped, missing or mistyped required fields raise ProtocolError, which
the WebSocket handler turns into an `error` message.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

VERSION = 1
SOURCES = ("microphone", "camera", "screen")
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


@dataclass(frozen=True)
class PublishedTrack:
    mid: str
    source: str


@dataclass(frozen=True)
class Join:
    type: ClassVar[str] = "join"
    version: int
    call: str
    name: str
    host_token: str | None = None
    link: str | None = None  # the join link's token


@dataclass(frozen=True)
class Publish:
    type: ClassVar[str] = "publish"
    sdp: str
    tracks: tuple[PublishedTrack, ...]


@dataclass(frozen=True)
class SubscribeAnswer:
    type: ClassVar[str] = "subscribe_answer"
    sdp: str


@dataclass(frozen=True)
class Mute:
    type: ClassVar[str] = "mute"
    source: str
    muted: bool


@dataclass(frozen=True)
class Leave:
    type: ClassVar[str] = "leave"


@dataclass(frozen=True)
class Ping:
    type: ClassVar[str] = "ping"


@dataclass(frozen=True)
class MuteParticipant:
    """A host turns off someone's microphone or camera, optionally locking it off."""

    type: ClassVar[str] = "mute_participant"
    peer_id: str
    source: str
    lock: bool


@dataclass(frozen=True)
class UnlockParticipant:
    """A host lets someone turn a source back on (they do so themselves)."""

    type: ClassVar[str] = "unlock_participant"
    peer_id: str
    source: str


@dataclass(frozen=True)
class RemoveParticipant:
    type: ClassVar[str] = "remove_participant"
    peer_id: str


@dataclass(frozen=True)
class SetRole:
    type: ClassVar[str] = "set_role"
    peer_id: str
    role: str


@dataclass(frozen=True)
class EndCall:
    type: ClassVar[str] = "end_call"


@dataclass(frozen=True)
class NewLink:
    """A host regenerates the call's join link: the old one stops working."""

    type: ClassVar[str] = "new_link"


@dataclass(frozen=True)
class RevokeLink:
    """A host revokes the call's join link: only hosts can come in until a new one."""

    type: ClassVar[str] = "revoke_link"


@dataclass(frozen=True)
class StartRecording:
    type: ClassVar[str] = "start_recording"


@dataclass(frozen=True)
class StopRecording:
    type: ClassVar[str] = "stop_recording"


@dataclass(frozen=True)
class StartBroadcast:
    """A host broadcasts the call: `public` (anyone with the watch link) or only to the
    members of a school (`org_id`; by default the host's own school)."""

    type: ClassVar[str] = "start_broadcast"
    public: bool
    org_id: str | None = None


@dataclass(frozen=True)
class StopBroadcast:
    type: ClassVar[str] = "stop_broadcast"


@dataclass(frozen=True)
class NewWatchLink:
    """A host replaces the broadcast's watch link: the old one lets nobody new in."""

    type: ClassVar[str] = "new_watch_link"


@dataclass(frozen=True)
class SetWaitingRoom:
    type: ClassVar[str] = "set_waiting_room"
    enabled: bool


@dataclass(frozen=True)
class Admit:
    type: ClassVar[str] = "admit"
    peer_id: str


@dataclass(frozen=True)
class Deny:
    type: ClassVar[str] = "deny"
    peer_id: str


@dataclass(frozen=True)
class AdmitAll:
    type: ClassVar[str] = "admit_all"


ClientMessage = (
    Join
    | Publish
    | SubscribeAnswer
    | Mute
    | Leave
    | Ping
    | MuteParticipant
    | UnlockParticipant
    | RemoveParticipant
    | SetRole
    | EndCall
    | SetWaitingRoom
    | Admit
    | Deny
    | AdmitAll
    | StartBroadcast
    | StopBroadcast
    | NewWatchLink
    | NewLink
    | RevokeLink
    | StartRecording
    | StopRecording
)
ROLES = ("host", "cohost", "participant")


def _field(data: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = data.get(name)
    # bool is an int in Python; a version of `true` is still a mistake
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError("bad_message", f"{what}: field {name!r} must be {kind.__name__}", what)
    return value


def _text(data: dict[str, Any], name: str, what: str, *, max_len: int) -> str:
    value: str = _field(data, name, str, what)
    value = value.strip()
    if not value or len(value) > max_len:
        raise ProtocolError(
            "bad_message", f"{what}: {name!r} must be 1 to {max_len} characters", what
        )
    return value


def _sdp(data: dict[str, Any], what: str) -> str:
    value: str = _field(data, "sdp", str, what)
    if not value.startswith("v=0"):
        raise ProtocolError("bad_sdp", f"{what}: 'sdp' is not an SDP description", what)
    return value


def _source(value: object, what: str) -> str:
    if value not in SOURCES:
        raise ProtocolError(
            "bad_message", f"{what}: source must be one of {', '.join(SOURCES)}", what
        )
    return str(value)


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse one WebSocket text message from a participant."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError("bad_message", "message too large")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "missing 'type'")
    if kind == "join":
        version = _field(data, "version", int, kind)
        call = _field(data, "call", str, kind)
        if not CALL_ID.match(call):
            raise ProtocolError("bad_message", "join: 'call' must be 1-64 of A-Z a-z 0-9 _ -", kind)
        tokens = {}
        for key in ("host_token", "link"):
            value = data.get(key)
            if value is not None and not (isinstance(value, str) and len(value) <= 128):
                raise ProtocolError("bad_message", f"join: '{key}' must be a string", kind)
            tokens[key] = value
        return Join(
            version=version,
            call=call,
            name=_text(data, "name", kind, max_len=64),
            host_token=tokens["host_token"],
            link=tokens["link"],
        )
    if kind == "publish":
        raw_tracks = _field(data, "tracks", list, kind)
        tracks = []
        for item in raw_tracks:
            if not isinstance(item, dict):
                raise ProtocolError("bad_message", "publish: each track must be an object", kind)
            mid = _field(item, "mid", str, kind)
            tracks.append(PublishedTrack(mid=mid, source=_source(item.get("source"), kind)))
        if len({t.mid for t in tracks}) != len(tracks):
            raise ProtocolError("bad_message", "publish: a mid is listed twice", kind)
        return Publish(sdp=_sdp(data, kind), tracks=tuple(tracks))
    if kind == "subscribe_answer":
        return SubscribeAnswer(sdp=_sdp(data, kind))
    if kind == "mute":
        return Mute(
            source=_source(data.get("source"), kind), muted=_field(data, "muted", bool, kind)
        )
    if kind == "leave":
        return Leave()
    if kind == "mute_participant":
        source = _source(data.get("source"), kind)
        if source == "screen":
            raise ProtocolError(
                "bad_message", f"{kind}: a screen share is stopped, not muted", kind
            )
        lock = data.get("lock", False)
        if not isinstance(lock, bool):
            raise ProtocolError("bad_message", f"{kind}: 'lock' must be bool", kind)
        return MuteParticipant(peer_id=_field(data, "peer_id", str, kind), source=source, lock=lock)
    if kind == "unlock_participant":
        return UnlockParticipant(
            peer_id=_field(data, "peer_id", str, kind), source=_source(data.get("source"), kind)
        )
    if kind == "remove_participant":
        return RemoveParticipant(peer_id=_field(data, "peer_id", str, kind))
    if kind == "set_role":
        role = data.get("role")
        if role not in ("cohost", "participant"):
            raise ProtocolError("bad_message", f"{kind}: role must be cohost or participant", kind)
        return SetRole(peer_id=_field(data, "peer_id", str, kind), role=str(role))
    if kind == "end_call":
        return EndCall()
    if kind == "set_waiting_room":
        return SetWaitingRoom(enabled=_field(data, "enabled", bool, kind))
    if kind == "admit":
        return Admit(peer_id=_field(data, "peer_id", str, kind))
    if kind == "deny":
        return Deny(peer_id=_field(data, "peer_id", str, kind))
    if kind == "admit_all":
        return AdmitAll()
    if kind == "start_recording":
        return StartRecording()
    if kind == "stop_recording":
        return StopRecording()
    if kind == "start_broadcast":
        org = data.get("org_id")
        if org is not None and not isinstance(org, str):
            raise ProtocolError("bad_message", f"{kind}: org_id must be a string", kind)
        return StartBroadcast(public=_field(data, "public", bool, kind), org_id=org)
    if kind == "stop_broadcast":
        return StopBroadcast()
    if kind == "new_watch_link":
        return NewWatchLink()
    if kind == "new_link":
        return NewLink()
    if kind == "revoke_link":
        return RevokeLink()
    if kind == "ping":
        return Ping()
    raise ProtocolError("unknown_type", f"unknown message type {kind!r}", kind)


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
