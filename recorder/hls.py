"""A live broadcast as Low-Latency HLS: fMP4 parts, segments and playlists in a directory.

The design: recorder/DESIGN.md, *hls.py*."""

from __future__ import annotations

import logging
import math
import os
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from recorder.writer import FragmentedMp4Writer

logger = logging.getLogger("recorder.hls")

SEGMENT_SECONDS = 1.0
PART_SECONDS = 1 / 3
WINDOW = 6
KEEP_EXTRA = 4  # segments kept on disk beyond the playlist's window
PART_SEGMENTS = 3  # complete segments whose parts are still listed in live.m3u8
VIDEO_BITRATE = 400_000
AUDIO_BITRATE = 64_000  # speech; the recordings keep 128 kbit/s
# EXT-X-MAP in a playlist that is not I-frames-only needs version 6; nothing used here
# (no EXT-X-SKIP delta updates, which need 9) asks for more.
HLS_VERSION = 6
# ffmpeg cuts a fragment when *any* track has held frag_duration. A part starts at a
# video frame and its audio at or just after it, so with frag_duration a hair under the
# part, video reaches it first (at 15 fps, 5 frames: 333 ms) and audio, in 21.3 ms AAC
# frames, only later (16 frames: 341 ms). At exactly part_seconds audio could win some
# races and cut between two frames, leaving a one-frame stub of a part.
FRAGMENT_MARGIN = 0.001
NON_SYNC_SAMPLE = 0x00010000  # ISO/IEC 14496-12 sample_flags: sample_is_non_sync_sample

OnPart = Callable[[int, int, bool, bool], None]


# -- the MP4 byte stream ---------------------------------------------------------------


def iter_boxes(
    data: bytes | bytearray, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload offset, box end) of each complete box in data[start:end]."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if offset + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:  # to the end: only ever the last box of a finished file
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, payload, box_end in iter_boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


@dataclass
class TrackDefaults:
    """What the moov says of a track that its fragments may leave out."""

    handler: bytes  # b"vide", b"soun"
    timescale: int
    sample_duration: int = 0  # trex defaults
    sample_flags: int = 0


@dataclass
class TrackRun:
    """One track's samples in one fragment."""

    start: int  # tfdt, in the track's timescale
    duration: int  # sum of the sample durations
    first_sync: bool  # the first sample is a sync sample (a keyframe)
    timescale: int


@dataclass
class Fragment:
    data: bytes  # moof + mdat
    video: TrackRun | None
    audio: TrackRun | None


def parse_moov(data: bytes, start: int, end: int) -> dict[int, TrackDefaults]:
    tracks: dict[int, TrackDefaults] = {}
    for kind, payload, box_end in iter_boxes(data, start, end):
        if kind == b"trak":
            track_id, defaults = _parse_trak(data, payload, box_end)
            tracks[track_id] = defaults
    mvex = child(data, start, end, b"mvex")
    if mvex is not None:
        for kind, payload, _ in iter_boxes(data, *mvex):
            if kind == b"trex":
                track_id, _, duration, _, flags = struct.unpack_from(">5I", data, payload + 4)
                if track_id in tracks:
                    tracks[track_id].sample_duration = duration
                    tracks[track_id].sample_flags = flags
    return tracks


def _parse_trak(data: bytes, start: int, end: int) -> tuple[int, TrackDefaults]:
    tkhd = child(data, start, end, b"tkhd")
    mdia = child(data, start, end, b"mdia")
    if tkhd is None or mdia is None:
        raise ValueError("trak without tkhd or mdia")
    version = data[tkhd[0]]
    (track_id,) = struct.unpack_from(">I", data, tkhd[0] + (20 if version == 1 else 12))
    mdhd, hdlr = child(data, *mdia, b"mdhd"), child(data, *mdia, b"hdlr")
    if mdhd is None or hdlr is None:
        raise ValueError("mdia without mdhd or hdlr")
    version = data[mdhd[0]]
    (timescale,) = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))
    handler = bytes(data[hdlr[0] + 8 : hdlr[0] + 12])
    return track_id, TrackDefaults(handler, timescale)


def parse_moof(data: bytes, tracks: dict[int, TrackDefaults]) -> dict[bytes, TrackRun]:
    """The runs of a moof (data starts with it), by handler type."""
    moof = child(data, 0, len(data), b"moof")
    if moof is None:
        raise ValueError("no moof")
    runs: dict[bytes, TrackRun] = {}
    for kind, payload, box_end in iter_boxes(data, *moof):
        if kind == b"traf":
            parsed = _parse_traf(data, payload, box_end, tracks)
            if parsed is not None:
                runs[parsed[0]] = parsed[1]
    return runs


def _parse_traf(
    data: bytes, start: int, end: int, tracks: dict[int, TrackDefaults]
) -> tuple[bytes, TrackRun] | None:
    tfhd, tfdt = child(data, start, end, b"tfhd"), child(data, start, end, b"tfdt")
    if tfhd is None or tfdt is None:
        raise ValueError("traf without tfhd or tfdt")
    (tfhd_flags, track_id) = struct.unpack_from(">II", data, tfhd[0])
    track = tracks.get(track_id)
    if track is None:
        return None
    duration, flags = track.sample_duration, track.sample_flags
    offset = tfhd[0] + 8
    for bit, size in ((0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4), (0x20, 4)):
        if tfhd_flags & bit:
            if bit == 0x8:
                (duration,) = struct.unpack_from(">I", data, offset)
            elif bit == 0x20:
                (flags,) = struct.unpack_from(">I", data, offset)
            offset += size
    version = data[tfdt[0]]
    base_format = ">Q" if version == 1 else ">I"
    (base,) = struct.unpack_from(base_format, data, tfdt[0] + 4)
    total, first_flags = 0, None
    for kind, payload, _ in iter_boxes(data, start, end):
        if kind == b"trun":
            run_total, run_first = _parse_trun(data, payload, duration, flags)
            total += run_total
            first_flags = run_first if first_flags is None else first_flags
    first_sync = first_flags is not None and not first_flags & NON_SYNC_SAMPLE
    return track.handler, TrackRun(base, total, first_sync, track.timescale)


def _parse_trun(data: bytes, start: int, duration: int, flags: int) -> tuple[int, int | None]:
    """(sum of the sample durations, the first sample's flags) of one trun."""
    (trun_flags, count) = struct.unpack_from(">II", data, start)
    trun_flags &= 0xFFFFFF
    offset = start + 8 + (4 if trun_flags & 0x1 else 0)
    first_flags: int | None = None
    if trun_flags & 0x4:
        (first_flags,) = struct.unpack_from(">I", data, offset)
        offset += 4
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if trun_flags & bit]
    total = 0
    for index in range(count):
        sample_duration, sample_flags = duration, flags
        for bit in fields:
            (value,) = struct.unpack_from(">I", data, offset)
            offset += 4
            if bit == 0x100:
                sample_duration = value
            elif bit == 0x400:
                sample_flags = value
        total += sample_duration
        if index == 0 and first_flags is None:
            first_flags = sample_flags
    return total, first_flags if count else None


class BoxSink:
    """A write-only file-like object for the MP4 muxer: keeps the init section (ftyp +
    moov) and queues each complete moof+mdat as a Fragment."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header = bytearray()
        self._moof: bytes | None = None
        self.tracks: dict[int, TrackDefaults] = {}
        self.init: bytes | None = None
        self.ready: list[Fragment] = []
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.bytes += len(data)
        consumed = 0
        for kind, payload, end in iter_boxes(self._buffer):
            self._box(kind, bytes(self._buffer[consumed:end]), payload - consumed)
            consumed = end
        del self._buffer[:consumed]
        return len(data)

    def _box(self, kind: bytes, box: bytes, header: int) -> None:
        if kind == b"ftyp":
            self._header += box
        elif kind == b"moov":
            self.tracks = parse_moov(box, header, len(box))
            self.init = bytes(self._header + box)
        elif kind == b"moof":
            self._moof = box
        elif kind == b"mdat" and self._moof is not None:
            runs = parse_moof(self._moof, self.tracks)
            data = self._moof + box
            self.ready.append(Fragment(data, runs.get(b"vide"), runs.get(b"soun")))
            self._moof = None
        # anything else (free, an mfra at the end) is of no use to HLS

    def take(self) -> list[Fragment]:
        ready, self.ready = self.ready, []
        return ready


# -- HLS -------------------------------------------------------------------------------


@dataclass
class Part:
    index: int
    duration: float
    independent: bool
    data: bytes


@dataclass
class Segment:
    msn: int
    start: float  # media time, seconds
    parts: list[Part] = field(default_factory=list)
    complete: bool = False

    @property
    def duration(self) -> float:
        return sum(part.duration for part in self.parts)


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _ceil(value: float, digits: int) -> float:
    scale = 10.0**digits
    return math.ceil(round(value * scale, 6)) / scale


class HlsWriter:
    """The composed call in, LL-HLS out (see the module's docstring). The same
    add_video / add_audio / close API as FragmentedMp4Writer.

    `on_part(msn, part, independent, segment_complete)` is called once each part's files
    and the playlists are on disk; `segment_complete` says that part was the last of its
    segment, which is then listed whole. Should a segment's end show only later (at
    close(), or at a keyframe the writer did not report), its last part is announced a
    second time, with segment_complete=True."""

    def __init__(
        self,
        directory: str | Path,
        width: int,
        height: int,
        fps: int,
        sample_rate: int = 48000,
        channels: int = 1,
        *,
        segment_seconds: float = SEGMENT_SECONDS,
        part_seconds: float = PART_SECONDS,
        window: int = WINDOW,
        video_bitrate: int = VIDEO_BITRATE,
        audio_bitrate: int = AUDIO_BITRATE,
        preset: str = "veryfast",
        on_part: OnPart | None = None,
    ) -> None:
        if not 0 < part_seconds <= segment_seconds:
            raise ValueError("need 0 < part_seconds <= segment_seconds")
        if window < 1:
            raise ValueError("window must be at least 1")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self.segment_seconds, self.part_seconds, self.window = (
            segment_seconds,
            part_seconds,
            window,
        )
        self.on_part = on_part
        self.target_duration = max(1, math.ceil(segment_seconds))
        self.part_target = _ceil(part_seconds, 5)
        self.sink = BoxSink()
        self.writer = FragmentedMp4Writer(
            self.sink,
            width,
            height,
            fps,
            sample_rate,
            channels,
            preset,
            keyframe_seconds=segment_seconds,
            fragment_seconds=part_seconds - FRAGMENT_MARGIN,
            video_bitrate=video_bitrate,
            audio_bitrate=audio_bitrate,
        )
        self._segments: list[Segment] = []  # on disk, oldest first; the last may be open
        self._epoch: float | None = None  # wall-clock time of media time 0
        self._init_written = False
        self.closed = False
        self._ended = False  # close() is done with the media: the playlists say so
        # counters
        self.parts = 0
        self.segments = 0  # complete ones
        self.bytes = 0  # of media files (init and parts; segments repeat the parts)
        self.last_encode_seconds = 0.0  # wall time of the latest add_video's encoding
        self.encode_seconds = 0.0  # all of them

    # -- the writer's API ---------------------------------------------------------

    def add_video(self, rgb: npt.NDArray[np.uint8], pts_seconds: float) -> None:
        self._start_clock(pts_seconds)
        started = time.perf_counter()
        self.writer.add_video(rgb, pts_seconds)
        self.last_encode_seconds = time.perf_counter() - started
        self.encode_seconds += self.last_encode_seconds
        self._publish()

    def add_audio(self, block: npt.NDArray[np.generic], pts_seconds: float) -> None:
        self._start_clock(pts_seconds)
        self.writer.add_audio(block, pts_seconds)
        self._publish()

    def close(self) -> None:
        """Flush the encoders, finish the last segment, end both playlists."""
        if self.closed:
            return
        self.closed = True
        self.writer.close()
        self._publish()
        current = self._current()
        if current is not None:
            current.complete = True
            self._finish(current)
        self._ended = True
        self._write_playlists()
        if current is not None:
            self._announce(current, current.parts[-1])

    def __enter__(self) -> HlsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- parts and segments --------------------------------------------------------

    def _start_clock(self, pts_seconds: float) -> None:
        if self._epoch is None:
            self._epoch = time.time() - pts_seconds

    def _current(self) -> Segment | None:
        """The open segment, if any."""
        if self._segments and not self._segments[-1].complete:
            return self._segments[-1]
        return None

    def _publish(self) -> None:
        if not self._init_written and self.sink.init is not None:
            write_atomically(self.directory / "init.mp4", self.sink.init)
            self._init_written = True
            self.bytes += len(self.sink.init)
        for fragment in self.sink.take():
            self._add_part(fragment)

    def _add_part(self, fragment: Fragment) -> None:
        run = fragment.video or fragment.audio
        if run is None:
            return
        independent = fragment.video is not None and fragment.video.first_sync
        start = run.start / run.timescale
        duration = run.duration / run.timescale
        current = self._current()
        if independent and current is not None:  # a keyframe the writer did not report
            current.complete = True
            self._finish(current)
            self._write_playlists()
            self._announce(current, current.parts[-1])
            current = None
        if current is None:
            if not independent and self._segments:
                logger.warning("segment %d starts without a keyframe", self._next_msn())
            current = Segment(self._next_msn(), start)
            self._segments.append(current)
        part = Part(len(current.parts), duration, independent, fragment.data)
        current.parts.append(part)
        write_atomically(self.directory / f"s{current.msn}.{part.index}.m4s", part.data)
        self.parts += 1
        self.bytes += len(part.data)
        if self._ends_segment(start + duration):
            current.complete = True
            self._finish(current)
        self._write_playlists()
        self._announce(current, part)

    def _ends_segment(self, end: float) -> bool:
        """Whether the encoder has a keyframe at `end`: the fragment that ends there is the
        last of its segment (see the module's docstring)."""
        keyframe = self.writer.last_keyframe_seconds
        return keyframe is not None and abs(keyframe - end) < 0.5 / self.fps

    def _next_msn(self) -> int:
        return self._segments[-1].msn + 1 if self._segments else 0

    def _finish(self, segment: Segment) -> None:
        data = b"".join(part.data for part in segment.parts)
        write_atomically(self.directory / f"s{segment.msn}.m4s", data)
        self.segments += 1
        self._expire()

    def _expire(self) -> None:
        while len(self._segments) > self.window + KEEP_EXTRA:
            old = self._segments.pop(0)
            names = [f"s{old.msn}.m4s"] + [f"s{old.msn}.{p.index}.m4s" for p in old.parts]
            for name in names:
                (self.directory / name).unlink(missing_ok=True)

    def _announce(self, segment: Segment, part: Part) -> None:
        if self.on_part is not None:
            self.on_part(segment.msn, part.index, part.independent, segment.complete)

    # -- playlists -----------------------------------------------------------------

    def _write_playlists(self) -> None:
        listed = self._listed()
        write_atomically(self.directory / "live.m3u8", self._live(listed).encode())
        write_atomically(self.directory / "index.m3u8", self._plain(listed).encode())

    def _listed(self) -> list[Segment]:
        """The last `window` complete segments and the open one."""
        complete = [segment for segment in self._segments if segment.complete]
        current = self._current()
        return complete[-self.window :] + ([current] if current is not None else [])

    def _header(self, first_msn: int) -> list[str]:
        return [
            "#EXTM3U",
            f"#EXT-X-VERSION:{HLS_VERSION}",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{first_msn}",
            '#EXT-X-MAP:URI="init.mp4"',
        ]

    def _live(self, listed: list[Segment]) -> str:
        lines = self._header(listed[0].msn if listed else 0)
        hold_back = _ceil(3 * self.part_target, 3)
        lines[3:3] = [
            f"#EXT-X-PART-INF:PART-TARGET={self.part_target:.5f}",
            f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={hold_back:.3f}",
        ]
        with_parts = {segment.msn for segment in listed if segment.complete}
        with_parts = set(sorted(with_parts)[-PART_SEGMENTS:])
        for segment in listed:
            lines.append(self._date(segment))
            if segment.msn in with_parts or not segment.complete:
                lines += [self._part_line(segment, part) for part in segment.parts]
            if segment.complete:
                lines += [f"#EXTINF:{segment.duration:.5f},", f"s{segment.msn}.m4s"]
        if self._ended:
            lines.append("#EXT-X-ENDLIST")
        elif listed:
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{self._next_part(listed[-1])}"')
        return "\n".join(lines) + "\n"

    def _part_line(self, segment: Segment, part: Part) -> str:
        line = f'#EXT-X-PART:DURATION={part.duration:.5f},URI="s{segment.msn}.{part.index}.m4s"'
        return line + (",INDEPENDENT=YES" if part.independent else "")

    def _next_part(self, newest: Segment) -> str:
        if newest.complete:
            return f"s{newest.msn + 1}.0.m4s"
        return f"s{newest.msn}.{len(newest.parts)}.m4s"

    def _plain(self, listed: list[Segment]) -> str:
        complete = [segment for segment in listed if segment.complete]
        lines = self._header(complete[0].msn if complete else 0)
        for segment in complete:
            lines += [
                self._date(segment),
                f"#EXTINF:{segment.duration:.5f},",
                f"s{segment.msn}.m4s",
            ]
        if self._ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def _date(self, segment: Segment) -> str:
        epoch = self._epoch if self._epoch is not None else time.time()
        moment = datetime.fromtimestamp(epoch + segment.start, UTC)
        return f"#EXT-X-PROGRAM-DATE-TIME:{moment.isoformat(timespec='milliseconds')}"
