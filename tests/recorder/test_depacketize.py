"""RTP back to frames: real VP8 and H.264 from aiortc's encoders, reordered, with a
lost packet; the frames decode with PyAV and show the pattern they were made of."""

from __future__ import annotations

import random
from fractions import Fraction

import av
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from recorder.depacketize import Depacketizer, Frame, Reorderer
from recorder.tap import Packet
from tests.support.media import pattern_frame, read_pattern


def rtp_packets(codec: str, frames: int, *, publisher: int = 5) -> list[Packet]:
    """A pattern video encoded by aiortc's encoder, as the SFU would forward it."""
    params = RTCRtpCodecParameters(
        mimeType=f"video/{codec}",
        clockRate=90000,
        parameters={"packetization-mode": "1"} if codec == "H264" else {},
    )
    encoder = get_encoder(params)
    packets = []
    seq = 65500  # wraps past 65535
    for index in range(frames):
        frame = av.VideoFrame.from_ndarray(pattern_frame(publisher, index), format="rgb24")
        frame.pts = index * 3000
        frame.time_base = Fraction(1, 90000)
        payloads, timestamp = encoder.encode(frame, force_keyframe=index == 0)
        for n, payload in enumerate(payloads):
            packets.append(
                Packet("p1", seq & 0xFFFF, timestamp, n == len(payloads) - 1, False, payload, 0.0)
            )
            seq += 1
    return packets


def decode(codec: str, frames: list[Frame]) -> list[tuple[int, int] | None]:
    decoder = av.CodecContext.create("vp8" if codec == "VP8" else "h264", "r")
    seen = []
    for frame in frames:
        for picture in decoder.decode(av.Packet(frame.data)):
            seen.append(read_pattern(picture.to_ndarray(format="rgb24")))
    return seen


def depacketize(codec: str, packets: list[Packet]) -> tuple[Depacketizer, list[Frame]]:
    depacketizer = Depacketizer(codec)
    frames: list[Frame] = []
    for packet in packets:
        frames.extend(depacketizer.push(packet))
    return depacketizer, frames


def test_vp8_and_h264_frames_come_back_whole_and_decode() -> None:
    for codec in ("VP8", "H264"):
        packets = rtp_packets(codec, 12)
        # a little reordering on the way, as on a real network
        rng = random.Random(7)
        shuffled = packets[:]
        for i in range(2, len(shuffled) - 3, 5):
            j = i + rng.randrange(1, 3)
            shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
        _, frames = depacketize(codec, shuffled)
        assert frames[0].keyframe
        assert [p for p in decode(codec, frames) if p] == [(5, i) for i in range(12)], codec


def test_a_lost_packet_drops_its_frame_until_the_next_keyframe() -> None:
    packets = rtp_packets("VP8", 8)
    del packets[3]  # frame 3 never arrives
    depacketizer = Depacketizer("VP8", window=3)
    frames = [f for p in packets for f in depacketizer.push(p)]
    # frames 0-2 decode; after the gap the picture waits for a keyframe (the tap asks)
    assert [p for p in decode("VP8", frames) if p] == [(5, 0), (5, 1), (5, 2)]
    assert depacketizer.need_keyframe and depacketizer.frames_dropped >= 1


def test_opus_packets_are_frames_and_the_reorderer_gives_up_on_gaps() -> None:
    depacketizer = Depacketizer("opus")
    frames = []
    for seq in (10, 12, 11, 13):
        frames += depacketizer.push(Packet("a", seq, seq * 960, True, True, bytes([seq]), 0.0))
    assert [f.data for f in frames] == [b"\x0a", b"\x0b", b"\x0c", b"\x0d"]
    reorder = Reorderer(window=3)
    out = []
    for seq in (1, 3, 4, 5):  # 2 never comes: given up once 3 are held
        out += [(p.seq, lost) for p, lost in reorder.push(Packet("a", seq, 0, True, True, b"", 0))]
    assert out == [(1, False), (3, True), (4, False), (5, False)]
