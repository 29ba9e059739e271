"""The broadcast encoder process: `python -m recorder.broadcast_worker --dir DIR`.

The design: recorder/DESIGN.md, *broadcast_worker.py*."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import numpy.typing as npt

from recorder import ipc
from recorder.compose import layout, stage_layout
from recorder.hls import HlsWriter
from recorder.worker import SAMPLE_RATE, Recorder, run

logger = logging.getLogger("broadcast")

OPUS_FRAME = 960  # 20 ms at 48 kHz
LIVE_AUDIO_DELAY = 0.12  # how late a source's audio may come: less than a recording's


class OpusOut:
    """The mix as Opus frames on a stream, each with its RTP timestamp."""

    def __init__(self, out: BinaryIO, bitrate: int = 64_000) -> None:
        self.out = out
        self.encoder = av.CodecContext.create("libopus", "w")
        self.encoder.sample_rate = SAMPLE_RATE
        self.encoder.layout = "mono"
        self.encoder.format = "s16"
        self.encoder.bit_rate = bitrate
        self.encoder.time_base = Fraction(1, SAMPLE_RATE)
        self.encoder.options = {"application": "audio", "frame_duration": "20"}
        self.encoder.open()
        self.frames = 0

    def __call__(self, block: npt.NDArray[np.int16], first_sample: int) -> None:
        for start in range(0, len(block) - OPUS_FRAME + 1, OPUS_FRAME):
            samples = np.ascontiguousarray(block[start : start + OPUS_FRAME]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = first_sample + start
            frame.time_base = Fraction(1, SAMPLE_RATE)
            for packet in self.encoder.encode(frame):
                ts = int(packet.pts or 0) & 0xFFFFFFFF
                self.out.write(ipc.opus_record(ts, bytes(packet)))
                self.frames += 1
        self.out.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--video-bitrate", type=int, default=400_000)
    parser.add_argument("--audio-bitrate", type=int, default=64_000)
    parser.add_argument(
        "--layout",
        choices=["stage", "grid"],
        default="stage",
        help="stage: the screen or the speaker, full frame (default); grid: as recorded",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    width, height = (int(x) for x in args.size.split("x"))
    out = sys.stdout.buffer

    spent = [0.0]  # encoding time already reported

    def part_ready(msn: int, part: int, independent: bool, complete: bool) -> None:
        encode = writer.encode_seconds - spent[0]
        spent[0] = writer.encode_seconds
        info = {
            "msn": msn,
            "part": part,
            "independent": independent,
            "complete": complete,
            "encode_seconds": round(encode, 6),
            "decode_errors": recorder.decode_errors,  # so far
        }
        out.write(ipc.json_record(b"H", info))
        out.flush()

    writer = HlsWriter(
        args.dir,
        width,
        height,
        args.fps,
        video_bitrate=args.video_bitrate,
        audio_bitrate=args.audio_bitrate,
        on_part=part_ready,
    )
    recorder = Recorder(
        writer,
        width,
        height,
        args.fps,
        audio_delay=LIVE_AUDIO_DELAY,
        on_mixed=OpusOut(out),
        layout=stage_layout if args.layout == "stage" else layout,
    )
    run(recorder)
    logger.info("broadcast encoder done: %s", json.dumps({"dir": str(args.dir)}))


if __name__ == "__main__":
    main()
