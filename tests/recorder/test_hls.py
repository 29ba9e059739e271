"""The broadcast's Low-Latency HLS output: real encoding into a directory, its playlists
read back with a small parser, every segment decoded with PyAV.

Six seconds of 640x360 at 15 fps, fed at the pace of real time (so the latency printed
means something): each frame carries the second it belongs to and its frame index as
black and white blocks (tests/support/media.py), and the sound is a 440 Hz tone.
"""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest

from recorder.hls import HlsWriter
from tests.support.media import dominant_frequency, pattern_frame, read_pattern

W, H, FPS, RATE = 640, 360, 15, 48000
SECONDS = 6
BLOCK = 960  # 20 ms of audio, as the composer hands it over
PART = 1 / 3


def picture(index: int) -> np.ndarray:
    """The frame's second and index as blocks at the top left, a grey bar moving below."""
    image = np.full((H, W, 3), 90, np.uint8)
    image[: pattern_frame(0, 0).shape[0], : pattern_frame(0, 0).shape[1]] = pattern_frame(
        index // FPS, index
    )
    x = 330 + (index * 7) % 260
    image[250:330, x : x + 40] = (40, 160, 220)
    return image


def tone(start: int, n: int) -> np.ndarray:
    t = (np.arange(n) + start) / RATE
    return (np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16)


@dataclass
class Broadcast:
    directory: Path
    writer: HlsWriter
    announced: list[tuple[int, int, bool, bool]] = field(default_factory=list)
    snapshots: dict[tuple[int, int], str] = field(default_factory=dict)  # live.m3u8 at a part
    latency: dict[int, float] = field(default_factory=dict)  # msn: frame in -> part 0 out
    cpu: float = 0.0


def feed(
    writer: HlsWriter,
    seconds: float,
    paced: bool,
    on_frame: Callable[[int], None] | None = None,
) -> float:
    """Feeds picture and tone; returns the CPU time spent in the writer."""
    cpu, sample, start = 0.0, 0, time.monotonic()
    for index in range(round(seconds * FPS)):
        if paced:
            time.sleep(max(0.0, start + index / FPS - time.monotonic()))
        if on_frame is not None:
            on_frame(index)
        image = picture(index)
        began = time.process_time()
        writer.add_video(image, index / FPS)
        while sample < (index + 1) * RATE / FPS:
            writer.add_audio(tone(sample, BLOCK), sample / RATE)
            sample += BLOCK
        cpu += time.process_time() - began
    began = time.process_time()
    writer.close()
    return cpu + time.process_time() - began


@pytest.fixture(scope="module")
def broadcast(tmp_path_factory: pytest.TempPathFactory) -> Broadcast:
    directory = tmp_path_factory.mktemp("hls")
    fed_at: dict[int, float] = {}

    def on_part(msn: int, part: int, independent: bool, complete: bool) -> None:
        result.announced.append((msn, part, independent, complete))
        result.snapshots[(msn, part)] = (directory / "live.m3u8").read_text()
        if part == 0 and msn not in result.latency and msn in fed_at:
            result.latency[msn] = time.monotonic() - fed_at[msn]

    def on_frame(index: int) -> None:
        if index % FPS == 0:
            fed_at[index // FPS] = time.monotonic()

    writer = HlsWriter(directory, W, H, FPS, sample_rate=RATE, on_part=on_part)
    result = Broadcast(directory, writer)
    result.cpu = feed(writer, SECONDS, paced=True, on_frame=on_frame)
    print(
        f"\nHLS {W}x{H} {FPS} fps, {writer.parts} parts, {writer.segments} segments, "
        f"{writer.bytes * 8 / SECONDS / 1000:.0f} kbit/s; CPU {result.cpu / SECONDS:.3f} s "
        f"per second of media; frame in -> its segment's first part on disk: "
        + ", ".join(f"{msn}: {ms * 1000:.0f} ms" for msn, ms in sorted(result.latency.items()))
    )
    return result


# -- a small playlist parser ----------------------------------------------------------


@dataclass
class Entry:
    uri: str
    duration: float
    date: str | None
    parts: list[dict[str, str]]


@dataclass
class Playlist:
    tags: dict[str, str]  # tags that occur once, by name
    segments: list[Entry]
    open_parts: list[dict[str, str]]  # the parts after the last complete segment
    hint: dict[str, str] | None
    ended: bool


def attributes(text: str) -> dict[str, str]:
    pairs = re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text)
    return {name: value.strip('"') for name, value in pairs}


def parse(text: str) -> Playlist:
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    tags: dict[str, str] = {}
    segments: list[Entry] = []
    parts: list[dict[str, str]] = []
    date, duration, hint, ended = None, None, None, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name == "#EXT-X-PART":
            parts.append(attributes(value))
        elif name == "#EXT-X-PROGRAM-DATE-TIME":
            date = line[len(name) + 1 :]
        elif name == "#EXTINF":
            duration = float(value.rstrip(","))
        elif name == "#EXT-X-PRELOAD-HINT":
            hint = attributes(value)
        elif name == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#"):
            assert name not in tags, f"{name} twice"
            tags[name] = value
        elif line:
            assert duration is not None, line
            segments.append(Entry(line, duration, date, parts))
            date, duration, parts = None, None, []
    return Playlist(tags, segments, parts, hint, ended)


def msn(uri: str) -> int:
    found = re.fullmatch(r"s(\d+)(?:\.\d+)?\.m4s", uri)
    assert found, uri
    return int(found.group(1))


# -- the playlists ----------------------------------------------------------------------


def test_live_playlist_after_close(broadcast: Broadcast) -> None:
    live = parse((broadcast.directory / "live.m3u8").read_text())
    assert live.tags["#EXT-X-VERSION"] in ("6", "9")
    assert live.tags["#EXT-X-TARGETDURATION"] == "1"
    target = float(attributes(live.tags["#EXT-X-PART-INF"])["PART-TARGET"])
    assert target == pytest.approx(PART, abs=0.001)
    control = attributes(live.tags["#EXT-X-SERVER-CONTROL"])
    assert control["CAN-BLOCK-RELOAD"] == "YES"
    assert float(control["PART-HOLD-BACK"]) >= 3 * target
    assert attributes(live.tags["#EXT-X-MAP"])["URI"] == "init.mp4"
    assert live.ended and live.hint is None and not live.open_parts
    first = int(live.tags["#EXT-X-MEDIA-SEQUENCE"])
    assert [msn(s.uri) for s in live.segments] == list(range(first, first + SECONDS))
    check_segments(broadcast.directory, live.segments, target)
    with_parts = [s for s in live.segments if s.parts]
    assert len(with_parts) >= 3 and with_parts == live.segments[-len(with_parts) :]


def check_segments(directory: Path, segments: list[Entry], part_target: float) -> None:
    dates = [np.datetime64(s.date.replace("+00:00", "")) for s in segments if s.date]
    assert len(dates) == len(segments)
    for entry, date, after in zip(segments, dates, dates[1:], strict=False):
        gap = (after - date) / np.timedelta64(1, "ms") / 1000
        assert gap == pytest.approx(entry.duration, abs=0.002)
    for entry in segments:
        assert (directory / entry.uri).is_file(), entry.uri
        assert entry.duration == pytest.approx(1.0, abs=0.01)
        if not entry.parts:
            continue
        durations = [float(p["DURATION"]) for p in entry.parts]
        assert all(d == pytest.approx(PART, abs=0.01) and d <= part_target for d in durations)
        assert sum(durations) == pytest.approx(entry.duration, abs=0.001)
        assert [p.get("INDEPENDENT") for p in entry.parts] == ["YES"] + [None] * (
            len(entry.parts) - 1
        )
        uris = [p["URI"] for p in entry.parts]
        assert uris == [f"s{msn(entry.uri)}.{n}.m4s" for n in range(len(uris))]
        joined = b"".join((directory / uri).read_bytes() for uri in uris)
        assert joined == (directory / entry.uri).read_bytes()  # byte for byte


def test_plain_playlist_has_no_low_latency_tags(broadcast: Broadcast) -> None:
    text = (broadcast.directory / "index.m3u8").read_text()
    plain = parse(text)
    for tag in ("#EXT-X-PART", "#EXT-X-PART-INF", "#EXT-X-SERVER-CONTROL", "PRELOAD-HINT"):
        assert tag not in text
    assert plain.ended
    assert attributes(plain.tags["#EXT-X-MAP"])["URI"] == "init.mp4"
    live = parse((broadcast.directory / "live.m3u8").read_text())
    assert [s.uri for s in plain.segments] == [s.uri for s in live.segments]
    assert plain.tags["#EXT-X-MEDIA-SEQUENCE"] == live.tags["#EXT-X-MEDIA-SEQUENCE"]


def test_playlists_while_live(broadcast: Broadcast) -> None:
    """Every part announced was in the playlist by then, and each playlist's preload
    hint named the part that came next."""
    announced = [(m, p) for m, p, _, _ in broadcast.announced]
    firsts = sorted({m for m, p in announced if p == 0})
    assert firsts == list(range(SECONDS))
    assert all(ind == (p == 0) for _, p, ind, _ in broadcast.announced)
    following = list(dict.fromkeys(announced))
    for (m, p), upcoming in itertools.pairwise(following):
        live = parse(broadcast.snapshots[(m, p)])
        assert not live.ended
        listed = [part["URI"] for s in live.segments for part in s.parts] + [
            part["URI"] for part in live.open_parts
        ]
        assert f"s{m}.{p}.m4s" in listed
        assert live.hint is not None and live.hint["TYPE"] == "PART"
        assert live.hint["URI"] == f"s{upcoming[0]}.{upcoming[1]}.m4s"
        first = int(live.tags["#EXT-X-MEDIA-SEQUENCE"])
        assert [msn(s.uri) for s in live.segments] == list(range(first, first + len(live.segments)))
        check_segments(broadcast.directory, live.segments, 0.33334)


def test_callback_marks_each_segments_last_part(broadcast: Broadcast) -> None:
    complete = [(m, p) for m, p, _, done in broadcast.announced if done]
    assert [m for m, _ in complete] == list(range(SECONDS))
    assert all(p == 2 for _, p in complete)
    assert broadcast.writer.segments == SECONDS
    assert broadcast.writer.parts == 3 * SECONDS


# -- the media ----------------------------------------------------------------------------


def test_every_segment_decodes_with_picture_and_tone(broadcast: Broadcast) -> None:
    init = (broadcast.directory / "init.mp4").read_bytes()
    for number in range(SECONDS):
        data = init + (broadcast.directory / f"s{number}.m4s").read_bytes()
        with av.open(io.BytesIO(data), mode="r") as container:
            kinds = {s.type: s.codec_context.name for s in container.streams}
            assert kinds == {"video": "h264", "audio": "aac"}
            frames = list(container.decode(video=0))
        assert len(frames) == FPS, number
        for frame in frames:
            index = round(frame.time * FPS)
            assert read_pattern(frame.to_ndarray(format="rgb24")) == (index // FPS, index)
            assert index // FPS == number
        with av.open(io.BytesIO(data), mode="r") as container:
            audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
        assert abs(len(audio) / RATE - 1.0) < 0.05, number
        assert dominant_frequency(audio, RATE) == pytest.approx(440, abs=3)
        assert 0.25 < np.abs(audio).max() < 0.5  # 12000 / 32768, give or take


def test_old_segments_are_deleted(tmp_path: Path) -> None:
    writer = HlsWriter(tmp_path, W, H, FPS, sample_rate=RATE, window=1)
    feed(writer, SECONDS, paced=False)
    kept = sorted(msn(p.name) for p in tmp_path.glob("s*.m4s"))
    assert sorted(set(kept)) == list(range(SECONDS - 5, SECONDS))  # window + 4
    live = parse((tmp_path / "live.m3u8").read_text())
    assert [s.uri for s in live.segments] == [f"s{SECONDS - 1}.m4s"]
    assert live.tags["#EXT-X-MEDIA-SEQUENCE"] == str(SECONDS - 1)
    assert live.ended and parse((tmp_path / "index.m3u8").read_text()).ended
