"""WHEP viewers: receive-only connections to the call's stage.

A viewer is not a participant: it gets no participant list and is never announced. It
carries one audio and one video m-line, fed by the room's Stage (sfu/broadcast.py):
video is the shared screen, or else the active speaker's camera, switched at the new
source's keyframe; audio is the broadcast's mix while the call is broadcast, or else the
active speaker's microphone. Every viewer gets the same rewritten packets, so a viewer
costs the call only its own SRTP and sends.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from calls.peer import new_id
from model.access import new_token
from sfu.broadcast import Stage, StageViewer
from sfu.codecs import RtpCodec
from sfu.producer import Producer
from sfu.router import Router
from sfu.sdp import SdpError, parse, to_codec
from sfu.transport import WebRtcTransport

logger = logging.getLogger(__name__)


def new_stage(stage_id: str, router: Router) -> Stage:
    return Stage(
        stage_id,
        router,
        ssrcs={"audio": secrets.randbits(31) | 1, "video": secrets.randbits(31) | 2},
    )


def stage_video(router: Router, current: Producer | None) -> Producer | None:
    """What viewers see: the latest shared screen, else the active speaker's camera, else
    whom they saw already, else the first camera."""
    producers = [p for p in router.producers.values() if p.kind == "video" and not p.closed]
    if not producers:
        return None
    screens = [p for p in producers if p.source == "screen"]
    if screens:
        return screens[-1]
    cameras = [p for p in producers if p.source == "camera"] or producers
    speaker = router.active_speaker
    for producer in cameras:
        if producer.owner == speaker:
            return producer
    if current is not None and current in cameras:
        return current
    return cameras[0]


def stage_audio(router: Router, current: Producer | None, mix: Producer | None) -> Producer | None:
    """What viewers hear: the broadcast's mix, else the active speaker's microphone."""
    if mix is not None and not mix.closed:
        return mix
    producers = [p for p in router.producers.values() if p.kind == "audio" and not p.closed]
    producers = [p for p in producers if not p.muted] or producers
    if not producers:
        return None
    speaker = router.active_speaker
    for producer in producers:
        if producer.owner == speaker:
            return producer
    if current is not None and current in producers:
        return current
    return producers[0]


class Viewer:
    def __init__(self, viewer_id: str, stage: Stage, broadcast_id: str | None = None) -> None:
        self.id = viewer_id
        self.stage = stage
        self.broadcast_id = broadcast_id  # a broadcast's viewer (else a WHEP one)
        self.feeds_edge = False  # an edge node's pipe, not a person (edges.py)
        # the secret that ends the session's Location (the id is in logs; this is not);
        # a /whep/{call} viewer's bearer token, which its DELETE must send again (a watch
        # page's viewer has none: its Location alone is its credential)
        self.session = new_token()
        self.session_token: str | None = None
        self.transport: WebRtcTransport = stage.router.create_transport(
            f"{viewer_id}-whep", cname=viewer_id
        )
        self.on_closed: Callable[[Viewer], None] | None = None
        self.seat: StageViewer | None = None
        self.transport.on_closed.append(self._on_transport_closed)

    async def start(self, offer: str) -> str:
        ssrcs = {kind: track.ssrc for kind, track in self.stage.tracks.items()}
        answer = await self.transport.accept_offer(offer, send=True, ssrcs=ssrcs)
        codecs: dict[str, tuple[RtpCodec, ...]] = {}
        for media in parse(answer).media:
            if media.port == 0 or media.direction not in ("sendonly", "sendrecv"):
                continue
            if media.kind in codecs or media.kind not in ssrcs:
                continue  # one stream per kind
            codecs[media.kind] = tuple(to_codec(c) for c in media.rtp.codecs)
        if not codecs:
            await self.transport.close()
            raise SdpError("the offer asks to receive no audio or video we can send")
        self.seat = self.stage.add_viewer(self.id, self.transport, codecs)
        return answer

    def _on_transport_closed(self, transport: WebRtcTransport) -> None:
        if self.seat is not None:
            self.stage.remove_viewer(self.seat)
        if self.on_closed is not None:
            self.on_closed(self)

    async def close(self) -> None:
        await self.transport.close()


async def open_viewer(
    stage: Stage,
    offer: str,
    viewers: dict[str, Viewer],
    on_closed: Callable[[Viewer], None],
    broadcast_id: str | None = None,
    *,
    feeds_edge: bool = False,
) -> tuple[Viewer, str]:
    """A new viewer of `stage`, kept in `viewers` while it lasts: it and its answer.
    An offer we cannot answer leaves nothing behind (SdpError). `feeds_edge`: an edge
    node's pipe, never counted as a viewer."""
    viewer = Viewer(new_id("v"), stage, broadcast_id)
    viewer.feeds_edge = feeds_edge
    viewers[viewer.id] = viewer
    try:
        answer = await viewer.start(offer)
    except SdpError:
        viewers.pop(viewer.id, None)
        await viewer.close()
        raise
    viewer.on_closed = on_closed
    return viewer, answer
