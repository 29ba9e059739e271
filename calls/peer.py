"""Peers: a participant's identity, role, published sources and mute state."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from calls.protocol import PeerInfo, ProtocolError, PublishedTrack, ServerMessage, TrackInfo
from calls.subscriber import SubscribeSession
from sfu.producer import Producer
from sfu.sdp import IncomingTrack
from sfu.transport import WebRtcTransport

logger = logging.getLogger(__name__)


KIND_OF_SOURCE = {"microphone": "audio", "camera": "video", "screen": "video"}


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(6)}"


@dataclass
class PublishedSource:
    producer: Producer
    source: str
    muted: bool = False


@dataclass
class Peer:
    """A participant: a browser on the WebSocket, or a WHIP publisher (no messages)."""

    id: str
    name: str
    send: Callable[[ServerMessage], None] | None
    joined_at: float = field(default_factory=time.monotonic)
    publish_transport: WebRtcTransport | None = None
    subscriber: SubscribeSession | None = None
    sources: dict[str, PublishedSource] = field(default_factory=dict)  # by mid
    muted_sources: set[str] = field(default_factory=set)
    locked: set[str] = field(default_factory=set)  # sources a host keeps off
    role: str = "participant"
    host_token: str | None = None  # brings a host or co-host back as such
    close: Callable[[], None] | None = None  # ends the participant's session
    waiting: bool = False  # in the waiting room: no media, no messages but the outcome
    publish_in_flight: bool = False
    first_media_seen: bool = False
    left: bool = False
    user_id: str | None = None  # the account behind a browser participant
    # a WHIP publisher's session (RFC 9725): the secret that ends its Location (the peer
    # id is no secret: everyone in the call sees it), and the bearer token its POST sent,
    # which its DELETE and PATCH must send again
    session: str | None = None
    session_token: str | None = None

    def info(self) -> PeerInfo:
        return PeerInfo(
            id=self.id,
            name=self.name,
            role=self.role,
            locked=sorted(self.locked),
            tracks=[
                TrackInfo(id=s.producer.id, kind=s.producer.kind, source=s.source, muted=s.muted)
                for s in self.sources.values()
            ],
        )

    @property
    def is_host(self) -> bool:
        return self.role in ("host", "cohost")

    def notify(self, message: ServerMessage) -> None:
        if self.send is not None and not self.left:
            self.send(message)


def resolve_sources(
    incoming: list[IncomingTrack], listed: tuple[PublishedTrack, ...]
) -> dict[str, str]:
    """The source of each sending m-line: as the client listed it, else the obvious one
    (a WHIP encoder lists nothing: its audio is a microphone, its video a camera)."""
    given = {t.mid: t.source for t in listed}
    result: dict[str, str] = {}
    for track in incoming:
        source = given.get(track.mid)
        if source is None:
            if track.kind == "audio":
                source = "microphone"
            else:
                source = "screen" if "camera" in result.values() else "camera"
        if KIND_OF_SOURCE[source] != track.kind:
            raise ProtocolError(
                "bad_message",
                f"publish: mid {track.mid} carries {track.kind}, not {source}",
                "publish",
            )
        result[track.mid] = source
    return result
