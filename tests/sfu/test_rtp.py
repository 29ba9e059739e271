from __future__ import annotations

import struct

import pytest

from sfu.rtp import (
    RtpError,
    audio_level,
    extension_element,
    h264_keyframe_start,
    is_rtcp,
    payload_offset,
    seq_newer,
    vp8_keyframe_start,
)


def rtp(
    payload: bytes = b"x", *, csrcs: int = 0, ext: bytes | None = None, profile: int = 0xBEDE
) -> bytes:
    b0 = 0x80 | csrcs
    if ext is not None:
        b0 |= 0x10
    header = struct.pack("!BBHII", b0, 96, 1, 2, 3) + b"\0\0\0\1" * csrcs
    if ext is not None:
        padded = ext + b"\0" * (-len(ext) % 4)
        header += struct.pack("!HH", profile, len(padded) // 4) + padded
    return header + payload


def test_payload_offset_skips_csrcs_and_extension() -> None:
    assert payload_offset(rtp()) == 12
    assert payload_offset(rtp(csrcs=2)) == 20
    packet = rtp(b"PAY", ext=bytes([0x10, 0xAA]))
    assert packet[payload_offset(packet) :] == b"PAY"


@pytest.mark.parametrize("bad", [b"", b"\x80" * 5, b"\x40" + b"\0" * 20, rtp(csrcs=3)[:20]])
def test_payload_offset_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(RtpError):
        payload_offset(bad)


def test_one_byte_extension_elements() -> None:
    # id 1 len 1 (mid "0"), padding, id 3 len 1: audio level voice flag + 40 dBov
    packet = rtp(ext=bytes([0x10, ord("0"), 0x00, 0x30, 0x80 | 40]))
    assert extension_element(packet, 1) == b"0"
    assert audio_level(packet, 3) == 40
    assert extension_element(packet, 2) is None


def test_two_byte_extension_elements() -> None:
    packet = rtp(ext=bytes([5, 2, 0xAB, 0xCD, 7, 1, 30]), profile=0x1000)
    assert extension_element(packet, 5) == b"\xab\xcd"
    assert audio_level(packet, 7) == 30


def test_no_extension() -> None:
    assert audio_level(rtp(), 1) is None


def test_vp8_keyframe_start() -> None:
    key = bytes([0x10, 0x00, 0x9D])  # S=1, PID 0; payload header P=0
    delta = bytes([0x10, 0x01])
    continuation = bytes([0x00, 0x00])
    with_picture_id = bytes([0x90, 0x80, 0x81, 0x23, 0x00])  # X, I, 15-bit picture id
    assert vp8_keyframe_start(key)
    assert not vp8_keyframe_start(delta)
    assert not vp8_keyframe_start(continuation)
    assert vp8_keyframe_start(with_picture_id)


def test_h264_keyframe_start() -> None:
    assert h264_keyframe_start(bytes([0x65, 0]))  # IDR
    assert h264_keyframe_start(bytes([0x67, 0]))  # SPS
    assert not h264_keyframe_start(bytes([0x41, 0]))  # non-IDR slice
    stap = bytes([0x78, 0, 2, 0x67, 0, 0, 2, 0x68, 0])  # STAP-A with SPS, PPS
    assert h264_keyframe_start(stap)
    assert h264_keyframe_start(bytes([0x7C, 0x85]))  # FU-A start of IDR
    assert not h264_keyframe_start(bytes([0x7C, 0x05]))  # FU-A middle


def test_rtcp_detection_and_sequence_order() -> None:
    assert is_rtcp(bytes([0x80, 200]))
    assert not is_rtcp(bytes([0x80, 96]))
    assert seq_newer(1, 65535)
    assert not seq_newer(65535, 1)
    assert not seq_newer(5, 5)
