"""The latency an SFU adds, from the kernel's timestamps at both ends of the server.

`tcpdump` captures the server's side of the veth (headers only, nanosecond stamps):
each packet the publisher sent as it came in, and each copy as it left for a
subscriber. SRTP leaves the RTP header readable, so every outgoing stream (by port and
SSRC) is matched to the incoming one it copies: an SFU renumbers, but by a constant
offset per stream, and keeps the payload, so the offset is the one under which the
payload sizes of the two streams differ by one constant (the tags and header
extensions of each side). The latency of a packet is then when its copy left minus
when it came in: what the SFU added, nothing of either endpoint.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_PCAP_NS = 0xA1B23C4D
_PCAP_US = 0xA1B2C3D4


@dataclass
class Packet:
    t: float  # seconds
    seq: int
    size: int  # payload (and SRTP tag) bytes after the RTP header and its extensions


@dataclass
class Streams:
    incoming: dict[int, list[Packet]] = field(default_factory=lambda: defaultdict(list))
    outgoing: dict[tuple[int, int], list[Packet]] = field(default_factory=lambda: defaultdict(list))


def read_pcap(path: Path, server_ip: str) -> Streams:
    """RTP packets to and from `server_ip` in a tcpdump file (Ethernet, IPv4, UDP)."""
    data = path.read_bytes()
    streams = Streams()
    if len(data) < 24:
        return streams
    magic = struct.unpack_from("<I", data)[0]
    if magic not in (_PCAP_NS, _PCAP_US):
        raise ValueError(f"{path}: not a little-endian pcap file")
    scale = 1e-9 if magic == _PCAP_NS else 1e-6
    server = bytes(int(x) for x in server_ip.split("."))
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, captured, _ = struct.unpack_from("<IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        if len(frame) < 14 + 20 + 8 + 12 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ihl = (frame[14] & 0x0F) * 4
        udp = 14 + ihl
        rtp = udp + 8
        if len(frame) < rtp + 12:
            continue
        b0, b1 = frame[rtp], frame[rtp + 1]
        if not 127 < b0 < 192 or 191 < b1 < 224:
            continue  # not RTP (STUN, DTLS, RTCP)
        header = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            if len(frame) < rtp + header + 4:
                continue
            header += 4 + 4 * struct.unpack_from("!H", frame, rtp + header + 2)[0]
        udp_length = struct.unpack_from("!H", frame, udp + 4)[0]
        seq = struct.unpack_from("!H", frame, rtp + 2)[0]
        ssrc = struct.unpack_from("!I", frame, rtp + 8)[0]
        packet = Packet(sec + frac * scale, seq, udp_length - 8 - header)
        if frame[30:34] == server:  # to the server: from the publisher
            streams.incoming[ssrc].append(packet)
        elif frame[26:30] == server:
            port = struct.unpack_from("!H", frame, udp + 2)[0]
            streams.outgoing[(port, ssrc)].append(packet)
    return streams


def _offset(out: list[Packet], source: list[Packet], probe: int = 40) -> int | None:
    """The sequence offset under which `out` copies `source`, if there is one.

    Under the right offset the payload sizes differ by one constant and every copy
    leaves after its original, soonest of all offsets that agree on sizes (a stream of
    equal sizes, such as constant-rate audio, is told apart by timing alone)."""
    by_seq = {p.seq: p for p in source}
    # not the stream's first packets: their originals may have come before the capture
    start = min(10, max(0, len(out) - probe))
    first = out[start : start + probe]
    best: tuple[float, int] | None = None
    for candidate in source:
        if not 0 <= first[0].t - candidate.t < 1.0:
            continue
        d = (first[0].seq - candidate.seq) & 0xFFFF
        pairs = [(p, by_seq[(p.seq - d) & 0xFFFF]) for p in first if (p.seq - d) & 0xFFFF in by_seq]
        if len(pairs) < len(first) // 2:
            continue
        differences = [p.size - q.size for p, q in pairs]
        if max(differences.count(x) for x in set(differences)) < 0.9 * len(pairs):
            continue
        delays = sorted(p.t - q.t for p, q in pairs)
        if delays[len(delays) // 20] < 0:  # copies before their originals: not this one
            continue
        if best is None or delays[len(delays) // 2] < best[0]:
            best = (delays[len(delays) // 2], d)
    return None if best is None else best[1]


def latencies(streams: Streams) -> dict[str, Any]:
    """What the SFU added per copied packet: p50, p99 and max in ms, and how many
    outgoing streams and packets could be matched."""
    samples: list[float] = []
    matched = unmatched = 0
    for out in streams.outgoing.values():
        if len(out) < 10:
            continue
        for source in streams.incoming.values():
            d = _offset(out, source)
            if d is None:
                continue
            by_seq = {p.seq: p for p in source}
            for p in out:
                original = by_seq.get((p.seq - d) & 0xFFFF)
                if original is not None and 0 <= p.t - original.t < 1.0:
                    samples.append(p.t - original.t)
            matched += 1
            break
        else:
            unmatched += 1
    if not samples:
        return {"streams_matched": matched, "streams_unmatched": unmatched, "packets": 0}
    ms = np.array(samples) * 1000
    return {
        "streams_matched": matched,
        "streams_unmatched": unmatched,
        "packets": len(samples),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }
