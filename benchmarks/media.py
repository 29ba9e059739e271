"""Synthetic RTP for the forwarding benchmark: packets built from bytes, no encoder.

Every packet carries, at a fixed place in its payload, the publisher's send time
(CLOCK_MONOTONIC in nanoseconds, the same clock in every process on the machine) and a
per-stream counter, so a subscriber can compute publisher-to-subscriber latency and
loss without decoding anything.

Video payload (RFC 7741), the same layout in every packet:

    0      VP8 payload descriptor: X=1, S=1 on the first packet of a frame, PID=0
    1      X byte: I=1 (a picture id follows)
    2..3   picture id, 15 bits, M=1
    4..6   VP8 payload header (frame tag); byte 4 bit 0 is the P bit: 0 keyframe, 1 delta.
           Only meaningful on the first packet of a frame, filled the same way elsewhere.
    7..14  send time, unsigned 64-bit big-endian nanoseconds
    15..18 counter, unsigned 32-bit
    19..   filler

Opus payload: send time at 0..7, counter at 8..11, filler after.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_HEADER = struct.Struct("!BBHII")
STAMP = struct.Struct("!QI")  # send time (ns), counter
AUDIO_LEVEL_EXTENSION = struct.Struct("!HHBBH")  # 0xBEDE, length 1, id/len, level, padding

VIDEO_STAMP_OFFSET = 7
AUDIO_STAMP_OFFSET = 0
VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
MAX_VIDEO_PAYLOAD = 1_100


@dataclass(frozen=True)
class MediaProfile:
    """What the publisher sends, before any rate multiplier."""

    video_bitrate: int = 1_500_000
    fps: float = 30.0
    keyframe_interval: float = 2.0
    audio_packets_per_second: float = 50.0
    audio_payload: int = 160

    @property
    def frame_bytes(self) -> int:
        return max(1, round(self.video_bitrate / 8 / self.fps))

    def frame_payload_sizes(self) -> list[int]:
        """Payload sizes of one frame's packets: as even as possible, each <= 1,100 bytes."""
        total = self.frame_bytes
        count = -(-total // MAX_VIDEO_PAYLOAD)
        base, extra = divmod(total, count)
        return [base + (1 if i < extra else 0) for i in range(count)]

    @property
    def packets_per_frame(self) -> int:
        return len(self.frame_payload_sizes())

    def packets_per_second(self, rate: float = 1.0) -> float:
        return rate * (self.fps * self.packets_per_frame + self.audio_packets_per_second)


class VideoPacketizer:
    """Builds the RTP packets of one video frame."""

    def __init__(
        self, *, ssrc: int, payload_type: int, profile: MediaProfile, seq: int, ts: int
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.sizes = profile.frame_payload_sizes()
        self.seq = seq & 0xFFFF
        self.picture_id = 0
        self._ts_base = ts
        filler = bytes((i * 7 + 3) & 0xFF for i in range(MAX_VIDEO_PAYLOAD + 64))
        self._templates: list[bytearray] = []
        for size in self.sizes:
            size = max(size, VIDEO_STAMP_OFFSET + STAMP.size)
            buffer = bytearray(RTP_HEADER.size + size)
            buffer[RTP_HEADER.size :] = filler[:size]
            self._templates.append(buffer)

    def timestamp(self, media_time: float) -> int:
        return (self._ts_base + int(media_time * VIDEO_CLOCK)) & 0xFFFFFFFF

    def packet(
        self, index: int, *, keyframe: bool, timestamp: int, sent_ns: int, counter: int
    ) -> bytes:
        """Packet `index` of the current frame, stamped with `sent_ns` and `counter`."""
        buffer = self._templates[index]
        last = index == len(self._templates) - 1
        RTP_HEADER.pack_into(
            buffer,
            0,
            0x80,
            (0x80 if last else 0) | self.payload_type,
            self.seq,
            timestamp,
            self.ssrc,
        )
        self.seq = (self.seq + 1) & 0xFFFF
        p = RTP_HEADER.size
        buffer[p] = 0x90 if index == 0 else 0x80
        buffer[p + 1] = 0x80
        buffer[p + 2] = 0x80 | (self.picture_id >> 8)
        buffer[p + 3] = self.picture_id & 0xFF
        # frame tag: P bit 0 for a keyframe; show_frame set
        buffer[p + 4] = 0x10 if keyframe else 0x11
        buffer[p + 5] = 0
        buffer[p + 6] = 0
        STAMP.pack_into(buffer, p + VIDEO_STAMP_OFFSET, sent_ns, counter)
        if last:
            self.picture_id = (self.picture_id + 1) & 0x7FFF
        return bytes(buffer)


class AudioPacketizer:
    """Builds Opus-shaped RTP packets, with an RFC 6464 audio level when negotiated."""

    def __init__(
        self,
        *,
        ssrc: int,
        payload_type: int,
        profile: MediaProfile,
        seq: int,
        ts: int,
        level_id: int,
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.seq = seq & 0xFFFF
        self._ts_base = ts
        self._level_id = level_id if 0 < level_id < 15 else 0
        header = RTP_HEADER.size + (AUDIO_LEVEL_EXTENSION.size if self._level_id else 0)
        size = max(profile.audio_payload, STAMP.size)
        self._buffer = bytearray(header + size)
        self._buffer[header:] = bytes((i * 13 + 5) & 0xFF for i in range(size))
        self._payload_at = header

    def timestamp(self, media_time: float) -> int:
        return (self._ts_base + int(media_time * AUDIO_CLOCK)) & 0xFFFFFFFF

    def packet(self, *, timestamp: int, sent_ns: int, counter: int, level: int = 40) -> bytes:
        buffer = self._buffer
        first = 0x90 if self._level_id else 0x80
        RTP_HEADER.pack_into(buffer, 0, first, self.payload_type, self.seq, timestamp, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        if self._level_id:
            AUDIO_LEVEL_EXTENSION.pack_into(
                buffer, RTP_HEADER.size, 0xBEDE, 1, self._level_id << 4, 0x80 | (level & 0x7F), 0
            )
        STAMP.pack_into(buffer, self._payload_at + AUDIO_STAMP_OFFSET, sent_ns, counter)
        return bytes(buffer)


def payload_start(packet: bytes) -> int:
    """Offset of an RTP packet's payload (past CSRCs and a header extension)."""
    offset = 12 + ((packet[0] & 0x0F) << 2)
    if packet[0] & 0x10:
        offset += 4 + (((packet[offset + 2] << 8) | packet[offset + 3]) << 2)
    return offset
