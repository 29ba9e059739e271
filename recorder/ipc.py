"""What the call's process tells the recorder process, over the recorder's stdin.

The design: recorder/DESIGN.md, *ipc.py*."""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

PACKET_HEAD = struct.Struct("!HHIBQ")
RECORD_HEAD = struct.Struct("!cI")


def packet_record(
    number: int, seq: int, ts: int, marker: bool, keyframe: bool, arrival_us: int, payload: bytes
) -> bytes:
    flags = (1 if marker else 0) | (2 if keyframe else 0)
    body = PACKET_HEAD.pack(number, seq, ts, flags, arrival_us) + payload
    return RECORD_HEAD.pack(b"P", len(body)) + body


def json_record(kind: bytes, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, separators=(",", ":")).encode()
    return RECORD_HEAD.pack(kind, len(body)) + body


END = RECORD_HEAD.pack(b"E", 0)
TICK = struct.Struct("!Q")
OPUS_HEAD = struct.Struct("!I")


def tick_record(arrival_us: int) -> bytes:
    return RECORD_HEAD.pack(b"T", TICK.size) + TICK.pack(arrival_us)


def opus_record(ts: int, frame: bytes) -> bytes:
    return RECORD_HEAD.pack(b"O", OPUS_HEAD.size + len(frame)) + OPUS_HEAD.pack(ts) + frame


def read_record(stream: BinaryIO) -> tuple[bytes, bytes] | None:
    """The next record's type and body; None at the end of the stream."""
    head = stream.read(RECORD_HEAD.size)
    if len(head) < RECORD_HEAD.size:
        return None
    kind, length = RECORD_HEAD.unpack(head)
    body = stream.read(length)
    if len(body) < length:
        return None
    return kind, body


def parse_packet(body: bytes) -> tuple[int, int, int, bool, bool, int, bytes]:
    number, seq, ts, flags, arrival_us = PACKET_HEAD.unpack_from(body)
    return number, seq, ts, bool(flags & 1), bool(flags & 2), arrival_us, body[PACKET_HEAD.size :]
