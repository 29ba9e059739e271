"""Broadcasts: a host puts a call on air for viewers who take no part.

A broadcast has a watch link (`/watch/{token}`, its own unguessable token, which a host
may replace: the old one then lets nobody new in), and is either public (anyone with the
link, no account needed) or for one school's members. It runs the broadcast encoder
process (recorder/live.py): the call composed once into Low-Latency HLS under
`<data dir>/broadcasts/{public|members}/{id}/`, and the call's mix as Opus, which becomes
the audio of the room's stage for WebRTC (WHEP) viewers. Everyone in the call is told it
is on air; hosts get the watch link and live viewer counts by tier.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calls.peer import Peer
from calls.protocol import BroadcastViewers, ProtocolError
from calls.room import Room
from calls.viewers import Viewer
from recorder.live import BroadcastEncoder
from sfu.codecs import RtpCodec
from sfu.producer import Producer

logger = logging.getLogger(__name__)

OPUS = RtpCodec(mime_type="audio/opus", clock_rate=48000, payload_type=111, channels=2)
RTP_HEAD = struct.Struct("!BBHII")
COUNT_INTERVAL = 2.0  # hosts hear of viewer counts at most this often
HLS_VIEWER_SECONDS = 10.0  # an HLS viewer counts while it fetched a playlist this recently


def watch_path(token: str) -> str:
    return f"/watch/{token}"


class HlsAudience:
    """HLS viewers of one broadcast on one node: a viewer counts while it fetched a
    playlist within `HLS_VIEWER_SECONDS` (the watch page names itself with `?viewer=`;
    other players are told apart by address and user agent)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}  # viewer key -> last seen (monotonic)

    def saw(self, key: str) -> None:
        self._seen[key[:128]] = time.monotonic()

    def count(self, now: float) -> int:
        stale = [k for k, at in self._seen.items() if now - at > HLS_VIEWER_SECONDS]
        for key in stale:
            del self._seen[key]
        return len(self._seen)


def viewer_sent(viewer: Viewer) -> int:
    """RTP bytes sent to a WHEP viewer so far."""
    return sum(end.bytes for end in viewer.seat.ends.values()) if viewer.seat else 0


@dataclass
class Broadcast:
    id: str  # names its HLS directory
    room_id: str
    token: str  # of the watch link
    public: bool
    org_id: str | None  # whose members may watch, when not public
    started_at: datetime
    by: str | None  # peer id
    directory: Path
    encoder: BroadcastEncoder | None = None
    mix: Producer | None = None
    latest: tuple[int, int] = (-1, -1)  # the newest HLS part: (segment, part)
    latest_at: float | None = None  # when it came (monotonic)
    on_encoded: Callable[[float], None] | None = None  # a segment's encoding time
    on_decode_errors: Callable[[int], None] | None = None  # frames newly undecodable
    decode_errors: int = 0  # coded frames the encoder could not decode, so far
    ended: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set, then replaced
    hls: HlsAudience = field(default_factory=HlsAudience)  # its HLS viewers on this node
    bytes_served: dict[str, int] = field(default_factory=lambda: {"webrtc": 0, "hls": 0})
    _encoding: float = 0.0  # of the segment in progress
    _seq: int = 0
    _ssrc: int = field(default_factory=lambda: secrets.randbits(32))

    @property
    def hls_prefix(self) -> str:
        return f"/hls/{'public' if self.public else 'members'}/{self.id}/"

    def opus(self, ts: int, frame: bytes) -> None:
        """A frame of the encoder's mix, as an RTP packet into the mix producer."""
        if self.mix is None:
            return
        marker = 0x80 if self._seq == 0 else 0
        packet = RTP_HEAD.pack(0x80, marker | OPUS.payload_type, self._seq, ts, self._ssrc)
        self._seq = (self._seq + 1) & 0xFFFF
        self.mix.on_rtp(packet + frame, RTP_HEAD.size, None)

    def part(self, info: dict[str, Any]) -> None:
        """A new HLS part is on disk: wake whoever waits for it."""
        self.latest = (int(info["msn"]), int(info["part"]))
        self.latest_at = time.monotonic()
        self._encoding += float(info.get("encode_seconds", 0.0))
        self.undecodable(int(info.get("decode_errors", 0)))
        if info.get("complete"):
            if self.on_encoded is not None:
                self.on_encoded(self._encoding)
            self._encoding = 0.0
        self.wake()

    def undecodable(self, so_far: int) -> None:
        """The encoder could not decode `so_far` frames (a publisher's bad input)."""
        if so_far > self.decode_errors:
            if self.on_decode_errors is not None:
                self.on_decode_errors(so_far - self.decode_errors)
            self.decode_errors = so_far

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class Broadcasts:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.by_room: dict[str, Broadcast] = {}
        self.by_token: dict[str, Broadcast] = {}
        self.by_id: dict[str, Broadcast] = {}
        self.rooms: Callable[[str], Room | None] = lambda room_id: None
        self._counts: dict[str, tuple[int, int]] = {}
        # (WebRTC, HLS) viewers of a broadcast watching through other nodes (edges.py)
        self.elsewhere: Callable[[Broadcast], tuple[int, int]] = lambda broadcast: (0, 0)
        self.on_encoded: Callable[[float], None] | None = None  # for the metrics
        self.on_decode_errors: Callable[[int], None] | None = None  # for the metrics
        # told when a broadcast starts, changes its link (with the old token) or ends
        self.listeners: list[Callable[[Broadcast, str | None], None]] = []
        # bytes sent to viewers of broadcasts that ended, or by viewers gone
        self.served: dict[str, int] = {"webrtc": 0, "hls": 0}
        self._ticker: asyncio.Task[None] | None = None

    def of(self, room: Room) -> Broadcast | None:
        return self.by_room.get(room.id)

    async def start(
        self, room: Room, actor: Peer | None, *, public: bool, org_id: str | None
    ) -> Broadcast:
        """Start, for `actor`, a host in the call (checked by the protocol's table), or
        `actor` None: a host by HTTP. `org_id`: the school whose members may watch, when
        not public (the caller has checked they belong to it)."""
        if room.id in self.by_room:
            raise ProtocolError(
                "out_of_order", "the call is being broadcast already", "start_broadcast"
            )
        if not public and org_id is None:
            raise ProtocolError(
                "bad_message",
                "a broadcast for a school's members needs the school",
                "start_broadcast",
            )
        broadcast_id = secrets.token_urlsafe(16)
        kind = "public" if public else "members"
        broadcast = Broadcast(
            id=broadcast_id,
            room_id=room.id,
            token=secrets.token_urlsafe(18),
            public=public,
            org_id=None if public else org_id,
            started_at=datetime.now(UTC),
            by=actor.id if actor else None,
            directory=self.directory / kind / broadcast_id,
            on_encoded=self.on_encoded,
            on_decode_errors=self.on_decode_errors,
        )
        broadcast.mix = Producer(
            f"{room.id}-mix",
            kind="audio",
            source="microphone",
            owner="broadcast",
            ssrc=broadcast._ssrc,
            codec=OPUS,
            mid="mix",
        )

        def describe(producer: Producer) -> tuple[str, str]:
            peer = room.peers.get(producer.owner)
            return (peer.name if peer is not None else producer.owner), producer.source

        encoder = BroadcastEncoder(
            room.router,
            broadcast.directory,
            describe,
            on_opus=broadcast.opus,
            on_part=broadcast.part,
        )

        def encoder_gone() -> None:
            if not broadcast.ended:
                # viewers keep the picture; they hear the active speaker instead of the mix
                logger.error("the broadcast encoder of %s stopped", room.id)
                room.set_mix(None)

        encoder.on_exit = encoder_gone
        await encoder.start()
        broadcast.encoder = encoder
        room.speaker_listeners.append(encoder.speaker)
        encoder.speaker(room.router.active_speaker)
        self.by_room[room.id] = broadcast
        self.by_token[broadcast.token] = broadcast
        self.by_id[broadcast.id] = broadcast
        room.set_mix(broadcast.mix)
        for listener in self.listeners:
            listener(broadcast, None)

        def viewer_gone(viewer: Viewer) -> None:
            if viewer.broadcast_id == broadcast.id and not viewer.feeds_edge:
                broadcast.bytes_served["webrtc"] += viewer_sent(viewer)

        room.broadcast_started(
            broadcast.by,
            public=public,
            watch_link=watch_path(broadcast.token),
            on_viewer_gone=viewer_gone,
        )
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._count_viewers(), name="broadcast viewers")
        return broadcast

    async def stop(self, room: Room, actor: Peer | None, *, quiet: bool = False) -> None:
        """Stop (for a host, checked by the protocol's table; or `actor` None: a host by
        HTTP, or the call's end, which is `quiet` when there is no broadcast)."""
        broadcast = self.by_room.pop(room.id, None)
        if broadcast is None:
            if quiet:
                return
            raise ProtocolError("out_of_order", "the call is not being broadcast", "stop_broadcast")
        self.by_token.pop(broadcast.token, None)
        broadcast.ended = True
        for listener in self.listeners:
            listener(broadcast, None)
        room.broadcast_stopped(actor.id if actor else None, public=broadcast.public)
        if broadcast.encoder is not None:
            encoder = broadcast.encoder
            if encoder.speaker in room.speaker_listeners:
                room.speaker_listeners.remove(encoder.speaker)
            recorded = await encoder.stop()  # the playlists end with EXT-X-ENDLIST
            broadcast.undecodable(recorded.decode_errors)
        broadcast.wake()
        # viewers of a broadcast that ended: WebRTC ones are let go, HLS ones read the end
        for viewer in list(room.viewers.values()):
            if viewer.broadcast_id == broadcast.id:
                await viewer.close()
        self._counts.pop(room.id, None)
        for tier, sent in self.bytes_served(broadcast).items():
            self.served[tier] += sent
        # the HLS files stay a little, for players reading the end; then they go
        loop = asyncio.get_running_loop()
        loop.call_later(60, self._forget, broadcast)

    def _forget(self, broadcast: Broadcast) -> None:
        self.by_id.pop(broadcast.id, None)
        shutil.rmtree(broadcast.directory, ignore_errors=True)

    def new_link(self, room: Room, actor: Peer | None) -> str:
        """A new watch link; the old one lets nobody new in. (`actor`: a host, checked by
        the protocol's table; None: a host by HTTP.)"""
        broadcast = self.by_room.get(room.id)
        if broadcast is None:
            raise ProtocolError("out_of_order", "the call is not being broadcast", "new_watch_link")
        old = broadcast.token
        self.by_token.pop(old, None)
        broadcast.token = secrets.token_urlsafe(18)
        self.by_token[broadcast.token] = broadcast
        for listener in self.listeners:
            listener(broadcast, old)
        room.status.watch_link_changed(watch_path(broadcast.token), public=broadcast.public)
        return broadcast.token

    def _viewers(self, broadcast: Broadcast) -> list[Viewer]:
        """Its WebRTC viewers on this node (not the pipes to edge nodes)."""
        room = self.rooms(broadcast.room_id)
        if room is None:
            return []
        return [
            v for v in room.viewers.values() if v.broadcast_id == broadcast.id and not v.feeds_edge
        ]

    def counts(self, broadcast: Broadcast) -> tuple[int, int]:
        """(WebRTC, HLS) viewers watching on this node now."""
        return len(self._viewers(broadcast)), broadcast.hls.count(time.monotonic())

    def audience(self, broadcast: Broadcast) -> tuple[int, int]:
        """(WebRTC, HLS) viewers on every node: what hosts and the watch page show."""
        (webrtc, hls), (far_webrtc, far_hls) = self.counts(broadcast), self.elsewhere(broadcast)
        return webrtc + far_webrtc, hls + far_hls

    def bytes_served(self, broadcast: Broadcast) -> dict[str, int]:
        """By tier: HLS files parta served, and RTP sent to its WebRTC viewers."""
        webrtc = broadcast.bytes_served["webrtc"] + sum(map(viewer_sent, self._viewers(broadcast)))
        return {"webrtc": webrtc, "hls": broadcast.bytes_served["hls"]}

    def totals(self) -> dict[str, int]:
        """Bytes served by tier over the server's life."""
        totals = dict(self.served)
        for broadcast in self.by_room.values():
            for tier, sent in self.bytes_served(broadcast).items():
                totals[tier] += sent
        return totals

    async def _count_viewers(self) -> None:
        while True:
            await asyncio.sleep(COUNT_INTERVAL)
            for room_id, broadcast in list(self.by_room.items()):
                room = self.rooms(room_id)
                if room is None:
                    continue
                counts = self.audience(broadcast)
                if self._counts.get(room_id) != counts:
                    self._counts[room_id] = counts
                    room.roster.tell_hosts(BroadcastViewers(webrtc=counts[0], hls=counts[1]))

    async def close(self, rooms: dict[str, Room]) -> None:
        for room_id in list(self.by_room):
            room = rooms.get(room_id)
            if room is not None:
                await self.stop(room, None, quiet=True)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
