"""The recorder process as the call's side runs it: frames a publisher sent broken are
skipped and counted, the recording goes on, and the count is the process's last word
on stdout (a `D` record)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from recorder import ipc
from tests.support.media import pattern_frame

BROKEN = (8, 15)  # an inter frame, and a keyframe, arrive as garbage


def camera_records() -> bytes:
    """Thirty frames of a VP8 camera (keyframes at 0, 15 and 22), some broken."""
    encoder = get_encoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000))
    records = [
        ipc.json_record(
            b"A",
            {
                "number": 1,
                "kind": "video",
                "codec": "VP8",
                "owner": "teacher",
                "name": "Teacher",
                "source": "camera",
            },
        )
    ]
    seq = 0
    for index in range(30):
        frame = av.VideoFrame.from_ndarray(pattern_frame(5, index), format="rgb24")
        frame.pts = index * 3000
        frame.time_base = Fraction(1, 90000)
        keyframe = index in (0, 15, 22)
        payloads, ts = encoder.encode(frame, force_keyframe=keyframe)
        if index in BROKEN:  # the payload descriptor (4 bytes from aiortc) kept, the frame
            # garbage; its first byte even, so a keyframe still looks like one
            assert all(p[0] & 0x80 and p[1] & 0x80 and p[2] & 0x80 for p in payloads)
            payloads = [p[:4] + bytes(range(256))[: len(p) - 4] for p in payloads]
        for n, payload in enumerate(payloads):
            last = n == len(payloads) - 1
            arrival_us = index * 66_667
            records.append(
                ipc.packet_record(1, seq, ts, last, keyframe and n == 0, arrival_us, payload)
            )
            seq += 1
    return b"".join(records) + ipc.END


def test_broken_frames_are_counted_and_the_recording_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "lesson.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "recorder.worker", "--out", str(out), "--size", "320x240"],
        input=camera_records(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    said = io.BytesIO(result.stdout)
    records = []
    while (record := ipc.read_record(said)) is not None:
        records.append(record)
    assert [kind for kind, _ in records] == [b"D"]
    # each broken frame is refused once; what follows it waits for the next keyframe
    assert json.loads(records[0][1]) == {"decode_errors": len(BROKEN)}
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
    assert frames >= 25  # about 2 s at 15 fps: the file goes on past both breaks
