"""The recorder's taps: in-process consumers in producers' fan-outs (no WebRTC loop-back).

Drop policy, when the recorder falls behind (its queue is full):
- a packet that does not fit is dropped and counted; the call is never slowed, and the
  producer's loop never waits;
- after a video drop the tap drops that producer's packets until the next keyframe and
  asks for one (rate-limited by the producer), so the recording resumes with a clean
  picture instead of a smeared one;
- an audio drop is a gap the mixer fills with silence.
While a host has a source muted, its tap is paused like every subscriber's consumer.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from sfu.producer import Producer


@dataclass(frozen=True, slots=True)
class Packet:
    """One RTP packet as the recorder needs it."""

    producer_id: str
    seq: int
    ts: int
    marker: bool
    keyframe: bool
    payload: bytes
    arrival: float  # monotonic seconds


class PacketQueue:
    """Bounded, single-threaded: the producers' loops put, the recorder's pump drains."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._items: list[Packet] = []
        self.dropped = 0

    def put(self, packet: Packet) -> bool:
        if len(self._items) >= self.limit:
            self.dropped += 1
            return False
        self._items.append(packet)
        return True

    def drain(self) -> list[Packet]:
        items, self._items = self._items, []
        return items

    def __len__(self) -> int:
        return len(self._items)


_ids = itertools.count(1)


class Tap:
    """A Forwarder (see sfu/consumer.py) that hands packets to a PacketQueue."""

    def __init__(
        self,
        producer: Producer,
        queue: PacketQueue,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = f"tap-{next(_ids)}"
        self.producer = producer
        self.queue = queue
        self.video = producer.kind == "video"
        self.paused = False
        self.closed = False
        self.waiting_for_keyframe = self.video  # a picture starts at a keyframe
        self.dropped = 0
        self._clock = clock

    def forward(self, seq: int, ts: int, head: int, keyframe: bool, payload: bytes) -> None:
        if self.paused or self.closed:
            return
        if self.waiting_for_keyframe:
            if not keyframe:
                return
            self.waiting_for_keyframe = False
        packet = Packet(
            self.producer.id, seq, ts, bool(head & 0x80), keyframe, payload, self._clock()
        )
        if not self.queue.put(packet):
            self.dropped += 1
            if self.video:
                self.waiting_for_keyframe = True
                self.producer.request_keyframe()

    def on_producer_closed(self, producer: Producer) -> None:
        self.closed = True

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if self.video:
                self.waiting_for_keyframe = True
                self.producer.request_keyframe()
