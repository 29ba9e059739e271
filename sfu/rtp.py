"""RTP wire helpers for the forwarding path: pure functions on bytes, no sockets.

The forwarder never builds packet objects: it reads the few header fields it needs
straight from the bytes and writes a fresh 12-byte header per subscriber.
"""

from __future__ import annotations

import struct

# Version 2, padding bit, then marker|payload type, sequence, timestamp, SSRC.
HEADER = struct.Struct("!HHII")
FIXED_HEADER_SIZE = 12

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


class RtpError(ValueError):
    """The bytes are not a well-formed RTP packet."""


def is_rtcp(data: bytes) -> bool:
    """RFC 5761: RTCP packet types 192..223 occupy the second byte on a muxed port."""
    return len(data) > 1 and 191 < data[1] < 224


def payload_offset(packet: bytes) -> int:
    """Offset of the payload: past the fixed header, CSRCs and header extension."""
    size = len(packet)
    if size < FIXED_HEADER_SIZE or packet[0] >> 6 != 2:
        raise RtpError("not an RTP version 2 packet")
    offset = FIXED_HEADER_SIZE + ((packet[0] & 0x0F) << 2)
    if packet[0] & 0x10:
        if size < offset + 4:
            raise RtpError("truncated header extension")
        offset += 4 + (((packet[offset + 2] << 8) | packet[offset + 3]) << 2)
    if offset > size:
        raise RtpError("header longer than packet")
    return offset


def extension_element(packet: bytes, ext_id: int) -> bytes | None:
    """The value of header extension element `ext_id` (RFC 8285 one- or two-byte form)."""
    if not packet[0] & 0x10 or ext_id <= 0:
        return None
    start = FIXED_HEADER_SIZE + ((packet[0] & 0x0F) << 2)
    if len(packet) < start + 4:
        return None
    profile = (packet[start] << 8) | packet[start + 1]
    end = start + 4 + (((packet[start + 2] << 8) | packet[start + 3]) << 2)
    end = min(end, len(packet))
    i = start + 4
    if profile == 0xBEDE:
        while i < end:
            byte = packet[i]
            if byte == 0:  # padding
                i += 1
                continue
            element_id = byte >> 4
            length = (byte & 0x0F) + 1
            if element_id == 15:
                return None
            if element_id == ext_id:
                return bytes(packet[i + 1 : i + 1 + length])
            i += 1 + length
    elif profile & 0xFFF0 == 0x1000:
        while i + 1 < end:
            element_id = packet[i]
            if element_id == 0:
                i += 1
                continue
            length = packet[i + 1]
            if element_id == ext_id:
                return bytes(packet[i + 2 : i + 2 + length])
            i += 2 + length
    return None


def audio_level(packet: bytes, ext_id: int) -> int | None:
    """RFC 6464 level in -dBov (0 loudest, 127 silence), or None when absent."""
    value = extension_element(packet, ext_id)
    if not value:
        return None
    return value[0] & 0x7F


def vp8_keyframe_start(payload: bytes) -> bool:
    """True for the first packet of a VP8 keyframe (RFC 7741 descriptor, then P bit 0)."""
    if len(payload) < 2:
        return False
    first = payload[0]
    # S bit set and partition index 0: start of a frame.
    if not first & 0x10 or first & 0x07:
        return False
    i = 1
    if first & 0x80:  # X: extension byte follows
        ext = payload[1]
        i = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if i >= len(payload):
                return False
            i += 2 if payload[i] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            i += 1
        if ext & 0x30:  # T or K: TID/KEYIDX byte
            i += 1
    if i >= len(payload):
        return False
    return not payload[i] & 0x01


def h264_keyframe_start(payload: bytes) -> bool:
    """True when the packet begins an IDR picture or carries SPS (RFC 6184)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (5, 7):
        return True
    if nal_type == 24:  # STAP-A: walk aggregated NAL units
        i = 1
        while i + 2 < len(payload):
            size = (payload[i] << 8) | payload[i + 1]
            if size == 0 or i + 2 >= len(payload):
                break
            if payload[i + 2] & 0x1F in (5, 7):
                return True
            i += 2 + size
        return False
    if nal_type == 28 and len(payload) > 1:  # FU-A start fragment
        return bool(payload[1] & 0x80) and (payload[1] & 0x1F) in (5, 7)
    return False


def seq_newer(a: int, b: int) -> bool:
    """True when 16-bit sequence number `a` comes after `b` (RFC 3550 arithmetic)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000
