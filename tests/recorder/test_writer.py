"""The recorder's fragmented MP4 writer: real files, decoded back with PyAV; and a writer
killed with SIGKILL, whose file must still play."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from recorder.writer import FragmentedMp4Writer

ROOT = Path(__file__).resolve().parents[2]
W, H, FPS, RATE = 320, 240, 15, 48000
BAR = 40  # the moving pattern: a red bar, BAR wide, moving STEP pixels a frame
STEP = 6


def pattern(index: int) -> np.ndarray:
    image = np.zeros((H, W, 3), np.uint8)
    image[:, :, 2] = 60
    x = (index * STEP) % (W - BAR)
    image[:, x : x + BAR] = (230, 20, 20)
    return image


def tone(start: int, n: int, freq: float = 440.0) -> np.ndarray:
    t = (np.arange(n) + start) / RATE
    return (np.sin(2 * np.pi * freq * t) * 12000).astype(np.int16)


def write(path: Path, seconds: float, audio_block: int = 960) -> None:
    with FragmentedMp4Writer(path, W, H, FPS, sample_rate=RATE) as writer:
        frames = round(seconds * FPS)
        sample = 0
        for index in range(frames):
            writer.add_video(pattern(index), index / FPS)
            while sample < (index + 1) * RATE / FPS:
                writer.add_audio(tone(sample, audio_block), sample / RATE)
                sample += audio_block


def decode(path: Path) -> tuple[list[av.VideoFrame], np.ndarray]:
    with av.open(str(path)) as container:
        video = [f for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    return video, np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def peak(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[int(np.argmax(spectrum))])


def bar_position(rgb: np.ndarray) -> int:
    redness = rgb[H // 2, :, 0].astype(int) - rgb[H // 2, :, 2].astype(int)
    columns = np.flatnonzero(redness > 100)
    return int(columns[0]) if len(columns) else -1


def test_three_seconds_of_picture_and_tone(tmp_path: Path) -> None:
    path = tmp_path / "call.mp4"
    write(path, 3.0)
    with av.open(str(path)) as container:
        assert container.format.name.startswith("mov")
        kinds = {s.type: s.codec_context.name for s in container.streams}
        assert kinds == {"video": "h264", "audio": "aac"}
        assert container.streams.video[0].codec_context.width == W
        assert container.streams.audio[0].codec_context.sample_rate == RATE
        assert container.duration is not None
        assert abs(container.duration / 1_000_000 - 3.0) < 0.2
        keyframes = [
            float(p.pts * p.time_base)
            for p in container.demux(video=0)
            if p.pts is not None and p.is_keyframe
        ]
    assert keyframes and keyframes[0] < 0.1
    assert all(b - a <= 2.0 + 1e-6 for a, b in itertools.pairwise([*keyframes, 3.0]))
    video, audio = decode(path)
    assert len(video) == 45
    times = [f.time for f in video]
    assert times == sorted(times) and abs(times[-1] - times[0] - 44 / FPS) < 0.01
    for index in (0, 7, 22, 44):
        rgb = video[index].to_ndarray(format="rgb24")
        assert abs(bar_position(rgb) - (index * STEP) % (W - BAR)) <= 2, index
        assert rgb[H // 2, (index * STEP) % (W - BAR) + BAR // 2, 0] > 180
    assert abs(len(audio) / RATE - 3.0) < 0.1
    assert peak(audio[RATE // 2 : RATE * 5 // 2]) == pytest.approx(440, abs=2)
    assert 0.25 < np.abs(audio[RATE : 2 * RATE]).max() < 0.5  # 12000 / 32768, give or take


def test_odd_audio_blocks_are_rechunked_and_gaps_filled(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    with FragmentedMp4Writer(path, W, H, FPS) as writer:
        for index in range(30):
            writer.add_video(pattern(index), index / FPS)
        writer.add_audio(tone(0, 333), 0.0)
        writer.add_audio(tone(333, 24000 - 333), 333 / RATE)  # follows on
        writer.add_audio(tone(48000, 24000), 1.0)  # after half a second of nothing
        writer.add_audio(tone(60000, 24000), 60000 / RATE)  # overlaps: the rest only
    _, audio = decode(path)
    assert abs(len(audio) / RATE - 1.75) < 0.05  # 0 .. 1.75 s, the gap filled
    assert np.abs(audio[int(0.6 * RATE) : int(0.9 * RATE)]).max() < 0.01  # silence
    assert np.abs(audio[int(1.1 * RATE) : int(1.4 * RATE)]).max() > 0.25
    assert peak(audio[int(1.0 * RATE) : int(1.75 * RATE)]) == pytest.approx(440, abs=2)


def test_sound_and_picture_stay_aligned(tmp_path: Path) -> None:
    """A click at 1.000 s is heard at 1.000 s (the AAC priming does not delay the
    sound), and frames keep their times."""
    path = tmp_path / "sync.mp4"
    with FragmentedMp4Writer(path, W, H, FPS) as writer:
        for index in range(30):
            writer.add_video(pattern(index), index / FPS)
        for block in range(100):
            samples = np.zeros(960, np.int16)
            if block == 50:
                samples[:96] = 20000
            writer.add_audio(samples, block * 960 / RATE)
    video, audio = decode(path)
    assert [round(f.time, 4) for f in video[:3]] == [0.0, round(1 / FPS, 4), round(2 / FPS, 4)]
    click = int(np.argmax(np.abs(audio) > 0.2))
    assert abs(click / RATE - 1.0) < 0.002


def test_video_timestamps_are_kept_increasing(tmp_path: Path) -> None:
    path = tmp_path / "pts.mp4"
    with FragmentedMp4Writer(path, W, H, FPS) as writer:
        for at in (0.0, 0.1, 0.1, 0.05, 0.2, 0.3):
            writer.add_video(pattern(0), at)
        with pytest.raises(ValueError):
            writer.add_video(np.zeros((10, 10, 3), np.uint8), 0.4)
    video, _ = decode(path)
    times = [f.time for f in video]
    assert len(times) == 6 and all(b > a for a, b in itertools.pairwise(times))


CHILD = """
import sys, time
import numpy as np
from recorder.writer import FragmentedMp4Writer
from tests.recorder.test_writer import FPS, RATE, H, W, pattern, tone
writer = FragmentedMp4Writer(sys.argv[1], W, H, FPS, sample_rate=RATE)
start, index, sample = time.monotonic(), 0, 0
while True:  # a live call: forever, at the pace of real time
    writer.add_video(pattern(index), index / FPS)
    index += 1
    while sample < index * RATE / FPS:
        writer.add_audio(tone(sample, 960), sample / RATE)
        sample += 960
    print(index / FPS, flush=True)
    time.sleep(max(0.0, start + index / FPS - time.monotonic()))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_with_sigkill_leaves_a_file_that_plays(tmp_path: Path) -> None:
    path = tmp_path / "killed.mp4"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    written = 0.0
    deadline = time.monotonic() + 60
    try:
        assert child.stdout is not None
        for line in child.stdout:
            written = float(line)
            if written >= 3.0 or time.monotonic() > deadline:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert written >= 3.0
    video, audio = decode(path)
    assert len(video) >= 2 * FPS
    assert video[-1].time - video[0].time >= 1.9
    rgb = video[len(video) - 1].to_ndarray(format="rgb24")
    index = len(video) - 1
    assert abs(bar_position(rgb) - (index * STEP) % (W - BAR)) <= 2  # a clean picture
    assert len(audio) / RATE >= 1.9
    assert peak(audio[: RATE * 3 // 2]) == pytest.approx(440, abs=2)
