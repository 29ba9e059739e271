"""Synthetic media with content a test can check after a round trip through the SFU.

Video frames carry the publisher's number and the frame index as big black and white
blocks (they survive VP8 at low bitrate); audio is a sine tone of a frequency chosen
per publisher, found again with an FFT.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time

import av
import numpy as np
from aiortc import MediaStreamTrack

WIDTH, HEIGHT = 320, 240
BLOCK = 40  # 8 x 6 blocks
SAMPLE_RATE = 48000
AUDIO_PTIME = 0.02
VIDEO_CLOCK = 90000
FPS = 30


def pattern_frame(publisher: int, index: int) -> np.ndarray:
    """Row 0: publisher number (8 bits); rows 1-2: frame index (16 bits); rest grey."""
    image = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
    bits = [(publisher >> (7 - i)) & 1 for i in range(8)]
    bits += [(index >> (15 - i)) & 1 for i in range(16)]
    for n, bit in enumerate(bits):
        row, col = divmod(n, 8)
        value = 255 if bit else 0
        image[row * BLOCK : (row + 1) * BLOCK, col * BLOCK : (col + 1) * BLOCK] = value
    return image


def read_pattern(image: np.ndarray) -> tuple[int, int] | None:
    """(publisher, frame index) read back from a decoded frame, or None if unreadable."""
    if image.shape[0] < HEIGHT or image.shape[1] < WIDTH:
        return None
    bits = []
    for n in range(24):
        row, col = divmod(n, 8)
        cell = image[
            row * BLOCK + 8 : (row + 1) * BLOCK - 8, col * BLOCK + 8 : (col + 1) * BLOCK - 8
        ]
        mean = float(cell.mean())
        if 60 < mean < 196:
            return None
        bits.append(1 if mean >= 196 else 0)
    publisher = int("".join(map(str, bits[:8])), 2)
    index = int("".join(map(str, bits[8:])), 2)
    return publisher, index


class PatternVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, publisher: int) -> None:
        super().__init__()
        self.publisher = publisher
        self.index = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self.index / FPS
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame.from_ndarray(
            pattern_frame(self.publisher, self.index), format="rgb24"
        )
        frame.pts = int(self.index * VIDEO_CLOCK / FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.index += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, frequency: float, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self.samples = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        count = int(SAMPLE_RATE * AUDIO_PTIME)
        target = self._start + self.samples / SAMPLE_RATE
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (np.arange(count) + self.samples) / SAMPLE_RATE
        wave = (self.amplitude * 32767 * np.sin(2 * np.pi * self.frequency * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self.samples += count
        return frame


def dominant_frequency(samples: np.ndarray, sample_rate: int) -> float:
    """The strongest frequency in a mono signal."""
    samples = samples.astype(np.float64)
    samples -= samples.mean()
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    return float(freqs[int(np.argmax(spectrum))])


def audio_frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    data = frame.to_ndarray()
    if frame.format.is_planar:
        return data.mean(axis=0) if data.shape[0] > 1 else data[0]
    channels = len(frame.layout.channels)
    return data.reshape(-1, channels).mean(axis=1)


class TrackRecorder:
    """Reads a received track in the background and keeps what a test checks."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track
        self.patterns: list[tuple[int, int]] = []
        self.unreadable = 0
        self.frames = 0
        self.audio: list[np.ndarray] = []
        self.sample_rate = SAMPLE_RATE
        self.first_frame_at: float | None = None
        self.last_image: np.ndarray | None = None
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except Exception:
                return
            self.frames += 1
            if self.first_frame_at is None:
                self.first_frame_at = time.monotonic()
            if isinstance(frame, av.VideoFrame):
                self.last_image = frame.to_ndarray(format="rgb24")
                found = read_pattern(self.last_image)
                if found is None:
                    self.unreadable += 1
                else:
                    self.patterns.append(found)
            else:
                self.sample_rate = frame.sample_rate
                self.audio.append(audio_frame_to_mono(frame))

    def audio_samples(self, last_seconds: float | None = None) -> np.ndarray:
        if not self.audio:
            return np.zeros(0)
        samples = np.concatenate(self.audio)
        if last_seconds is not None:
            samples = samples[-int(last_seconds * self.sample_rate) :]
        return samples

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
