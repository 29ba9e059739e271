"""From RTP packets back to coded frames, for the recorder's decoders.

Per producer: a small reordering window puts packets back in sequence order; frames are
cut at timestamp changes and marker bits; a frame with a hole is thrown away, and video
then waits for the next keyframe (the tap asks for one). VP8 (RFC 7741), H.264 (RFC 6184:
single NAL units, STAP-A, FU-A; out as Annex B) and Opus (one frame per packet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from recorder.tap import Packet

START_CODE = b"\x00\x00\x00\x01"


@dataclass(frozen=True, slots=True)
class Frame:
    producer_id: str
    ts: int  # RTP timestamp
    data: bytes
    keyframe: bool
    arrival: float  # when its first packet arrived (monotonic seconds)


def _seq_after(a: int, b: int) -> bool:
    """Whether sequence number a comes after b (modulo 2^16)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


class Reorderer:
    """Holds up to `window` packets to put late ones back in order; a gap that stays
    open that long is given up (the packets after it go on)."""

    def __init__(self, window: int = 32) -> None:
        self.window = window
        self._held: dict[int, Packet] = {}
        self._next: int | None = None

    def push(self, packet: Packet) -> Iterator[tuple[Packet, bool]]:
        """Packets ready in order, each with whether one or more were lost before it."""
        if self._next is None:
            self._next = packet.seq
        if packet.seq != self._next and not _seq_after(packet.seq, self._next):
            return  # too late, or a duplicate
        self._held[packet.seq] = packet
        lost = False
        while True:
            found = self._held.pop(self._next, None)
            if found is not None:
                yield found, lost
                lost = False
                self._next = (self._next + 1) & 0xFFFF
                continue
            if len(self._held) < self.window:
                return
            # give up on the gap: skip to the oldest held packet
            oldest = min(self._held, key=lambda s: (s - self._next) & 0xFFFF)  # type: ignore[operator]
            self._next = oldest
            lost = True


def vp8_payload(payload: bytes) -> tuple[bytes, bool, bool]:
    """The VP8 data of one packet, whether it starts a frame (S=1, PID=0), and whether
    that frame is a keyframe."""
    if not payload:
        return b"", False, False
    first = payload[0]
    at = 1
    if first & 0x80:  # X: extension byte
        ext = payload[at]
        at += 1
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            at += 2 if payload[at] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            at += 1
        if ext & 0x30:  # T or K: TID/KEYIDX
            at += 1
    data = payload[at:]
    start = bool(first & 0x10) and (first & 0x07) == 0
    keyframe = start and bool(data) and not (data[0] & 0x01)
    return data, start, keyframe


def h264_payload(payload: bytes, fragment: bytearray) -> tuple[bytes, bool]:
    """Annex B bytes for one packet (FU-A fragments gather in `fragment` until their
    end), and whether they hold an IDR or SPS NAL unit."""
    if not payload:
        return b"", False
    kind = payload[0] & 0x1F
    if 1 <= kind <= 23:
        return START_CODE + payload, kind in (5, 7)
    if kind == 24:  # STAP-A
        out = bytearray()
        key = False
        at = 1
        while at + 2 <= len(payload):
            size = (payload[at] << 8) | payload[at + 1]
            unit = payload[at + 2 : at + 2 + size]
            at += 2 + size
            if unit:
                out += START_CODE + unit
                key = key or (unit[0] & 0x1F) in (5, 7)
        return bytes(out), key
    if kind == 28 and len(payload) > 2:  # FU-A
        header = payload[1]
        inner = header & 0x1F
        if header & 0x80:  # start
            fragment.clear()
            fragment += START_CODE + bytes([(payload[0] & 0xE0) | inner])
        if fragment:
            fragment += payload[2:]
        if header & 0x40 and fragment:  # end
            unit = bytes(fragment)
            fragment.clear()
            return unit, inner in (5, 7)
        return b"", False
    return b"", False


class Depacketizer:
    """Packets of one producer in, whole frames out."""

    def __init__(self, codec: str, *, window: int = 32) -> None:
        self.codec = codec.upper()  # VP8, H264 or OPUS
        self.video = self.codec != "OPUS"
        self.reorder = Reorderer(window)
        self._parts: list[bytes] = []
        self._ts: int | None = None
        self._key = False
        self._broken = False
        self._arrival = 0.0
        self._fragment = bytearray()
        self.need_keyframe = self.video
        self.frames_dropped = 0

    def push(self, packet: Packet) -> list[Frame]:
        frames: list[Frame] = []
        for ready, lost in self.reorder.push(packet):
            if lost:
                self._broken = True
                self._fragment.clear()
            frames.extend(self._take(ready))
        return frames

    def _take(self, packet: Packet) -> list[Frame]:
        if not self.video:
            return [Frame(packet.producer_id, packet.ts, packet.payload, True, packet.arrival)]
        out: list[Frame] = []
        if self._ts is not None and packet.ts != self._ts:
            out.extend(self._finish(packet.producer_id))  # a frame whose marker was lost
        if self._ts is None:
            self._ts, self._arrival = packet.ts, packet.arrival
        if self.codec == "VP8":
            data, start, key = vp8_payload(packet.payload)
            if start:
                self._key = key
        else:
            data, key = h264_payload(packet.payload, self._fragment)
            self._key = self._key or key
        if data:
            self._parts.append(data)
        if packet.marker:
            out.extend(self._finish(packet.producer_id))
        return out

    def _finish(self, producer_id: str) -> list[Frame]:
        frame = Frame(producer_id, self._ts or 0, b"".join(self._parts), self._key, self._arrival)
        broken = self._broken or not frame.data
        self._parts, self._ts, self._key, self._broken = [], None, False, False
        if broken:
            self.need_keyframe = True
            self.frames_dropped += 1
            return []
        if self.need_keyframe:
            if not frame.keyframe:
                self.frames_dropped += 1
                return []
            self.need_keyframe = False
        return [frame]
