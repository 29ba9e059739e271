"""What a subscriber really got: RTP packets counted at its socket, per SSRC, before
aiortc sees them (the header is plain text under SRTP). The SFU renumbers what it
forwards, so only a gap in these sequence numbers shows a drop."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stream:
    first: int  # extended sequence numbers
    highest: int
    seen: set[int] = field(default_factory=set)
    duplicates: int = 0

    @property
    def received(self) -> int:
        return len(self.seen)

    @property
    def missing(self) -> int:
        """Sequence numbers between the first and the highest that never came."""
        return self.highest - self.first + 1 - len(self.seen)


class RtpCounter:
    """Pass to `seam.filter_datagrams` (or a CallClient's `keep_incoming`): it counts and
    keeps every datagram."""

    def __init__(self) -> None:
        self.streams: dict[int, Stream] = {}

    def __call__(self, data: bytes) -> bool:
        # RTP, not RTCP (RFC 5761: payload types 64-95 with the marker bit are RTCP)
        if len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
            seq = (data[2] << 8) | data[3]
            ssrc = int.from_bytes(data[8:12], "big")
            stream = self.streams.get(ssrc)
            if stream is None:
                self.streams[ssrc] = Stream(seq, seq, {seq})
            else:
                # extend the 16-bit number to the one nearest the highest seen
                ext = stream.highest + ((seq - stream.highest + 0x8000) & 0xFFFF) - 0x8000
                if ext in stream.seen:
                    stream.duplicates += 1
                stream.seen.add(ext)
                stream.highest = max(stream.highest, ext)
                stream.first = min(stream.first, ext)
        return True

    def stream(self, ssrc: int) -> Stream:
        return self.streams[ssrc]
