"""WHEP viewers: receive-only connections that follow the call's stage.

A viewer is not a participant: it gets no participant list and is never announced.
It carries one audio and one video m-line; the server points them at the active
speaker's microphone and at the shared screen, or else the active speaker's camera,
and switches video at the new source's next keyframe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sfu.codecs import RtpCodec
from sfu.consumer import Consumer
from sfu.producer import Producer
from sfu.router import Router
from sfu.sdp import SdpError, parse, to_codec
from sfu.transport import WebRtcTransport

logger = logging.getLogger(__name__)


@dataclass
class _Slot:
    mid: str
    ssrc: int
    codecs: tuple[RtpCodec, ...]
    consumer: Consumer | None = None


class Viewer:
    def __init__(self, viewer_id: str, router: Router) -> None:
        self.id = viewer_id
        self.router = router
        self.transport: WebRtcTransport = router.create_transport(
            f"{viewer_id}-whep", cname=viewer_id
        )
        self.on_closed: Callable[[Viewer], None] | None = None
        self._slots: dict[str, _Slot] = {}
        self.transport.on_closed.append(self._on_transport_closed)
        self.transport.connected_callbacks.append(self._request_keyframes)

    async def start(self, offer: str) -> str:
        answer = await self.transport.accept_offer(offer, send=True)
        description = parse(answer)
        by_mid = {t.mid: t for t in self.transport.pc.getTransceivers()}
        for media in description.media:
            if media.port == 0 or media.direction not in ("sendonly", "sendrecv"):
                continue
            if media.kind in self._slots:
                continue  # one stream per kind
            transceiver = by_mid.get(media.rtp.muxId)
            if transceiver is None:
                continue
            codecs = tuple(to_codec(c) for c in media.rtp.codecs)
            self._slots[media.kind] = _Slot(
                mid=str(media.rtp.muxId),
                ssrc=self.transport.sender_ssrc(transceiver),
                codecs=codecs,
            )
        if not self._slots:
            await self.transport.close()
            raise SdpError("the offer asks to receive no audio or video we can send")
        self.update_stage()
        return answer

    def _choose(self, kind: str) -> Producer | None:
        producers = [p for p in self.router.producers.values() if p.kind == kind and not p.closed]
        if not producers:
            return None
        speaker = self.router.active_speaker
        if kind == "video":
            screens = [p for p in producers if p.source == "screen"]
            if screens:
                return screens[-1]
            producers = [p for p in producers if p.source == "camera"] or producers
        else:
            producers = [p for p in producers if not p.muted] or producers
        for producer in producers:
            if producer.owner == speaker:
                return producer
        slot = self._slots.get(kind)
        current = slot.consumer.producer if slot and slot.consumer else None
        if current is not None and current in producers:
            return current
        return producers[0]

    def update_stage(self) -> None:
        for kind, slot in self._slots.items():
            producer = self._choose(kind)
            if producer is None:
                continue
            codec = next((c for c in slot.codecs if producer.codec.matches(c)), None)
            if codec is None:
                continue
            if slot.consumer is None:
                slot.consumer = self.router.create_consumer(
                    producer,
                    self.transport,
                    consumer_id=f"{self.id}-{kind}",
                    ssrc=slot.ssrc,
                    payload_type=codec.payload_type,
                    mid=slot.mid,
                )
            elif slot.consumer.producer is not producer:
                # both codecs were negotiated on this m-line, so the PT may change too
                slot.consumer.payload_type = codec.payload_type
                self.router.switch_consumer(slot.consumer, producer)

    def _request_keyframes(self) -> None:
        for slot in self._slots.values():
            if slot.consumer is not None:
                slot.consumer.request_keyframe()

    @property
    def stage(self) -> dict[str, str | None]:
        return {
            kind: (s.consumer.producer.id if s.consumer and s.consumer.producer else None)
            for kind, s in self._slots.items()
        }

    def _on_transport_closed(self, transport: WebRtcTransport) -> None:
        for slot in self._slots.values():
            slot.consumer = None
        if self.on_closed is not None:
            self.on_closed(self)

    async def close(self) -> None:
        await self.transport.close()
