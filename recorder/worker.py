"""The recorder process: `python -m recorder.worker --out FILE.mp4`.

The design: recorder/DESIGN.md, *worker.py*."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import av
import numpy as np
import numpy.typing as npt

from recorder import ipc
from recorder.compose import AudioMixer, Placement, Tile, compose, layout
from recorder.depacketize import Depacketizer
from recorder.tap import Packet
from recorder.writer import FragmentedMp4Writer

logger = logging.getLogger("recorder")

SAMPLE_RATE = 48000
BLOCK = 960  # 20 ms
AUDIO_DELAY = 0.3  # how late a source's audio may come and still be mixed in


@dataclass
class Source:
    number: int
    kind: str
    codec: str
    owner: str
    name: str
    source: str  # microphone, camera, screen
    depacketizer: Depacketizer
    decoder: Any  # a PyAV decoder (video or audio codec context)
    resampler: av.AudioResampler | None = None
    first_ts: int | None = None
    base_sample: int = 0
    frames: int = 0


@dataclass
class Picture:
    """What the recording shows: each owner's latest camera and screen frames."""

    cameras: dict[str, np.ndarray] = field(default_factory=dict)
    screens: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # owners, in order of arrival
    speaker: str | None = None


Layout = Callable[[list[Tile], str | None, str | None, tuple[int, int]], list[Placement]]


class Writer(Protocol):
    """Where the composed call goes: an MP4 file (recordings), HLS (broadcasts)."""

    def add_video(self, rgb: npt.NDArray[np.uint8], pts_seconds: float) -> None: ...

    def add_audio(self, block: npt.NDArray[np.generic], pts_seconds: float) -> None: ...

    def close(self) -> None: ...


class Recorder:
    def __init__(
        self,
        writer: Writer,
        width: int,
        height: int,
        fps: int,
        *,
        audio_delay: float = AUDIO_DELAY,
        on_mixed: Callable[[npt.NDArray[np.int16], int], None] | None = None,
        layout: Layout = layout,
    ) -> None:
        """`on_mixed(block, first_sample)` gets each block of the mix as it is made
        (a broadcast sends it to its WebRTC viewers)."""
        self.size = (width, height)
        self.fps = fps
        self.audio_delay = audio_delay
        self.on_mixed = on_mixed
        self.layout = layout
        self.writer = writer
        self.sources: dict[int, Source] = {}
        self.picture = Picture()
        self.mixer = AudioMixer()
        self.next_frame = 0  # index of the next video frame to write
        self.audio_until = 0  # samples written
        self.now = 0.0  # seconds since the start, by the latest arrival
        self.decode_errors = 0  # coded frames the decoders refused

    # -- records ------------------------------------------------------------------

    def handle(self, kind: bytes, body: bytes) -> None:
        if kind == b"P":
            self.packet(body)
        elif kind == b"A":
            self.add(json.loads(body))
        elif kind == b"R":
            self.remove(int(json.loads(body)["number"]))
        elif kind == b"S":
            self.picture.speaker = json.loads(body).get("owner")
        elif kind == b"T":
            self.advance(ipc.TICK.unpack(body)[0] / 1_000_000)

    def add(self, info: dict[str, object]) -> None:
        codec = str(info["codec"]).upper()
        decoder = av.CodecContext.create(
            {"VP8": "vp8", "H264": "h264", "OPUS": "libopus"}.get(codec, codec.lower()), "r"
        )
        source = Source(
            number=int(str(info["number"])),
            kind=str(info["kind"]),
            codec=codec,
            owner=str(info["owner"]),
            name=str(info["name"]),
            source=str(info["source"]),
            depacketizer=Depacketizer(codec),
            decoder=decoder,
        )
        if source.kind == "audio":
            source.resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self.sources[source.number] = source
        self.picture.names[source.owner] = source.name
        if source.owner not in self.picture.order:
            self.picture.order.append(source.owner)

    def remove(self, number: int) -> None:
        source = self.sources.pop(number, None)
        if source is None:
            return
        if source.source == "screen":
            self.picture.screens.pop(source.owner, None)
        elif source.kind == "video":
            self.picture.cameras.pop(source.owner, None)
        if not any(s.owner == source.owner for s in self.sources.values()):
            # they left: their tile goes
            self.picture.order = [o for o in self.picture.order if o != source.owner]

    def packet(self, body: bytes) -> None:
        number, seq, ts, marker, keyframe, arrival_us, payload = ipc.parse_packet(body)
        source = self.sources.get(number)
        arrival = arrival_us / 1_000_000
        self.advance(arrival)
        if source is None:
            return
        packet = Packet(str(number), seq, ts, marker, keyframe, payload, arrival)
        for frame in source.depacketizer.push(packet):
            try:
                decoded = source.decoder.decode(av.Packet(frame.data))
            except av.error.FFmpegError:
                self.decode_errors += 1  # a publisher's bad frame: skipped, counted
                source.depacketizer.need_keyframe = source.kind == "video"
                continue
            for item in decoded:
                if isinstance(item, av.VideoFrame):
                    image = item.to_ndarray(format="rgb24")
                    target = (
                        self.picture.screens if source.source == "screen" else self.picture.cameras
                    )
                    target[source.owner] = image
                elif isinstance(item, av.AudioFrame) and source.resampler is not None:
                    self.audio(source, frame.ts, frame.arrival, item)

    def audio(self, source: Source, ts: int, arrival: float, frame: av.AudioFrame) -> None:
        if source.first_ts is None:
            source.first_ts = ts
            source.base_sample = int(arrival * SAMPLE_RATE)
        # RTP time keeps a source's audio continuous; arrival placed its start
        at = source.base_sample + ((ts - source.first_ts) & 0xFFFFFFFF)
        assert source.resampler is not None
        for resampled in source.resampler.resample(frame):
            samples = resampled.to_ndarray().reshape(-1)
            self.mixer.push(source.owner, samples, at)
            at += len(samples)

    # -- the timeline -------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Write everything up to `now` (video) and `now - AUDIO_DELAY` (audio)."""
        self.now = max(self.now, now)
        while self.next_frame / self.fps <= self.now:
            self.video_frame(self.next_frame / self.fps)
            self.next_frame += 1
        until = int((self.now - self.audio_delay) * SAMPLE_RATE) // BLOCK * BLOCK
        if until > self.audio_until:
            block = self.mixer.pull(until)
            if len(block):
                self.writer.add_audio(block, self.audio_until / SAMPLE_RATE)
                if self.on_mixed is not None:
                    self.on_mixed(block, self.audio_until)
                self.audio_until += len(block)

    def video_frame(self, at: float) -> None:
        picture = self.picture
        tiles = [Tile(owner, picture.names.get(owner, "")) for owner in picture.order]
        screen = next(iter(picture.screens), None)
        placements = self.layout(tiles, screen, picture.speaker, self.size)
        frames = dict(picture.cameras)
        if screen is not None:
            frames[f"screen:{screen}"] = picture.screens[screen]
        self.writer.add_video(compose(frames, placements, self.size), at)

    def finish(self) -> None:
        self.advance(self.now + self.audio_delay)
        self.writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    width, height = (int(x) for x in args.size.split("x"))
    writer = FragmentedMp4Writer(args.out, width, height, args.fps, sample_rate=SAMPLE_RATE)
    run(Recorder(writer, width, height, args.fps))


def run(recorder: Recorder) -> None:
    """Records from stdin until the end record (or the call's side closes the pipe); at
    the end, says on stdout how many frames it could not decode (a `D` record)."""
    stream = sys.stdin.buffer
    try:
        while (record := ipc.read_record(stream)) is not None:
            kind, body = record
            if kind == b"E":
                break
            recorder.handle(kind, body)
    finally:
        recorder.finish()
        with contextlib.suppress(OSError):
            sys.stdout.buffer.write(
                ipc.json_record(b"D", {"decode_errors": recorder.decode_errors})
            )
            sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
