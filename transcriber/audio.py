"""Audio for the speech model: any file PyAV opens, as 16 kHz mono float32, in chunks.

Long audio (a recorded lesson) is never held whole: it is read in chunks of about
`chunk_seconds`, each cut at the quietest moment of its last seconds, so that a word is
rarely split in two and memory stays bounded whatever the length.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
Samples = npt.NDArray[np.float32]


class AudioError(Exception):
    """The file is not audio we can read; the message is the reason given to users."""


def chunks(
    path: Path, chunk_seconds: float = 600.0, search_seconds: float = 10.0
) -> Iterator[tuple[float, Samples]]:
    """(offset in seconds, samples) for each chunk of the file's first audio stream."""
    chunk = int(chunk_seconds * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), chunk // 2)
    pending: list[Samples] = []
    held = 0
    offset = 0
    decoded = False
    for block in _decode(path):
        decoded = True
        pending.append(block)
        held += len(block)
        while held >= chunk:
            buffer = np.concatenate(pending)
            cut = _quietest(buffer, chunk - search, chunk)
            yield offset / SAMPLE_RATE, buffer[:cut]
            offset += cut
            rest = buffer[cut:]
            pending, held = [rest], len(rest)
    if not decoded:
        raise AudioError("the file holds no audio that can be decoded")
    if held:
        yield offset / SAMPLE_RATE, np.concatenate(pending)


def _quietest(samples: Samples, start: int, end: int, window: int = SAMPLE_RATE // 10) -> int:
    """The start of the quietest `window` between start and end."""
    region = samples[start:end]
    frames = len(region) // window
    if frames < 2:
        return end
    energy = np.square(region[: frames * window]).reshape(frames, window).mean(axis=1)
    return start + int(np.argmin(energy)) * window


def _decode(path: Path) -> Iterator[Samples]:
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise AudioError(f"not an audio file we can read ({_why(error)})") from error
    with container:
        if not container.streams.audio:
            raise AudioError("the file has no audio")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        produced = False
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    produced = True
                    yield _floats(out)
            for out in resampler.resample(None):
                yield _floats(out)
        except av.error.FFmpegError as error:
            if not produced:
                raise AudioError(f"the audio cannot be decoded ({_why(error)})") from error
            # a file cut short (a recording stopped by a crash): keep what decoded


def _floats(frame: av.AudioFrame) -> Samples:
    return (frame.to_ndarray().reshape(-1).astype(np.float32) / 32768.0).astype(np.float32)


def _why(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return str(text).strip() or type(error).__name__
