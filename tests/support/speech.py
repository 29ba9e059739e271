"""Real speech for the transcription tests, and a word error rate to judge the result.

Russian is spoken by Festival's ``msu_ru_nsh_clunits`` voice (Debian's ``festvox-ru``),
English by ``espeak-ng``. The WAV they write is encoded to Opus at 48 kHz mono in WebM or
Ogg with PyAV, as a browser's MediaRecorder would send it. The sentences are school
talk without numerals or hard names, so a transcript can be compared word for word.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import unicodedata
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack

OPUS_RATE = 48000
CONTAINERS = ("webm", "ogg")

# Chosen from a larger set by measured WER with faster-whisper ``base`` (Russian) and
# ``tiny.en``/``base`` (English) after Opus encoding (worst: Russian 0.18, English 0.09).
# Sentences the Festival voice says too unclearly were dropped: "домашнее задание" came
# back as "домашние задания", "в актовом зале" as "во кто вам зале".
RUSSIAN: tuple[str, ...] = (
    "Сегодня на уроке литературы мы читали стихи и обсуждали их смысл.",
    "Родители пришли на собрание и поговорили с классным руководителем.",
    "Весной ученики посадили в школьном саду яблони, цветы и молодые берёзы.",
    "Дежурные должны вытереть доску и полить цветы на подоконниках.",
    "После звонка дети быстро побежали в столовую на большую перемену.",
    "Осенью в школьном саду ученики собирали яблоки и сухие листья.",
)

ENGLISH: tuple[str, ...] = (
    "This morning the history lesson was about ancient castles and kings.",
    "Please remember to finish your homework before the end of the week.",
    "The parents meeting will take place in the school hall after classes.",
    "In spring the children planted flowers and vegetables in the school garden.",
    "Our teacher asked everyone to bring a dictionary to the next lesson.",
    "After the bell rang the pupils went to the library to read quietly.",
)


class SpeechToolMissing(RuntimeError):
    """A speech synthesiser is not installed."""


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SpeechToolMissing(f"{name} not found on PATH; install the Debian package {package}")
    return found


def speak_russian(text: str, wav: Path) -> Path:
    """Speak ``text`` with Festival's Russian voice into ``wav`` (16 kHz mono)."""
    text2wave = _tool("text2wave", "festival (with festvox-ru)")
    source = wav.with_suffix(".txt")
    source.write_text(text.lower() + "\n", encoding="utf-8")
    subprocess.run(
        [text2wave, "-eval", "(voice_msu_ru_nsh_clunits)", str(source), "-o", str(wav)],
        check=True,
        capture_output=True,
    )
    return wav


def speak_english(text: str, wav: Path) -> Path:
    """Speak ``text`` with espeak-ng into ``wav`` (22.05 kHz mono)."""
    espeak = _tool("espeak-ng", "espeak-ng")
    subprocess.run([espeak, "-w", str(wav), text], check=True, capture_output=True)
    return wav


def _read_mono_48k(path: Path) -> np.ndarray:
    """All of a file's first audio stream as 48 kHz mono int16 samples."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(chunks).astype(np.int16)


def _write_opus(samples: np.ndarray, out: Path, container: str) -> Path:
    """Encode 48 kHz mono int16 ``samples`` to Opus in ``container``, padding the last frame."""
    if container not in CONTAINERS:
        raise ValueError(f"container must be one of {CONTAINERS}, not {container!r}")
    with av.open(str(out), "w", format=container) as output:
        stream = output.add_stream("libopus", rate=OPUS_RATE)
        codec = stream.codec_context
        codec.layout = "mono"
        codec.format = "s16"
        codec.open()
        size = int(codec.frame_size) or 960
        padded = np.zeros(-(-len(samples) // size) * size, dtype=np.int16)
        padded[: len(samples)] = samples
        for start in range(0, len(padded), size):
            frame = av.AudioFrame.from_ndarray(
                padded[start : start + size].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = OPUS_RATE
            frame.pts = start
            frame.time_base = Fraction(1, OPUS_RATE)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    decoded = _read_mono_48k(out)
    if len(decoded) < len(samples) // 2:
        raise RuntimeError(
            f"{out} decodes to {len(decoded)} samples, expected about {len(samples)}"
        )
    return out


def to_opus(wav: Path, out: Path, container: str) -> Path:
    """``wav`` as Opus at 48 kHz mono in a ``webm`` or ``ogg`` file, as MediaRecorder sends."""
    samples = _read_mono_48k(wav)
    if len(samples) == 0:
        raise ValueError(f"{wav} holds no audio")
    return _write_opus(samples, out, container)


def silence(out: Path, seconds: float, container: str, noise_dbfs: float | None = None) -> Path:
    """``seconds`` of Opus silence; with ``noise_dbfs`` (e.g. -60) a faint white noise instead,
    like a quiet room through a microphone."""
    count = round(seconds * OPUS_RATE)
    if noise_dbfs is None:
        samples = np.zeros(count, dtype=np.int16)
    else:
        rms = 32767 * 10 ** (noise_dbfs / 20)
        noise = np.random.default_rng(0).normal(0.0, rms, count)
        samples = np.clip(np.round(noise), -32768, 32767).astype(np.int16)
    return _write_opus(samples, out, container)


APOSTROPHES = "'\u2019\u02bc"  # typewriter, right single quote, modifier letter


def normalise(text: str) -> list[str]:
    """Lower-case words, yo read as ye, with punctuation (dashes and quotes too) taken out.

    Apostrophes are dropped inside a word ("parent's" reads as "parents", as the models
    write it either way); any other punctuation separates words ("из-за" is "из за").
    """
    text = text.lower().replace("ё", "е")
    for apostrophe in APOSTROPHES:
        text = text.replace(apostrophe, "")
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return kept.split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance from ``reference`` to ``hypothesis``, per reference word."""
    ref = normalise(reference)
    hyp = normalise(hypothesis)
    if not ref:
        raise ValueError("the reference has no words")
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, start=1):
        current = [i]
        for j, heard in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deleted
                    current[j - 1] + 1,  # inserted
                    previous[j - 1] + (word != heard),  # kept or substituted
                )
            )
        previous = current
    return previous[-1] / len(ref)


class SpeechAudioTrack(MediaStreamTrack):
    """A microphone that says the sentences in `wavs`, `pause` seconds apart, after
    `start_after` seconds of silence, then stays silent: real time, 20 ms frames."""

    kind = "audio"

    def __init__(self, wavs: list[Path], start_after: float = 1.0, pause: float = 1.0) -> None:
        super().__init__()
        gap = np.zeros(int(OPUS_RATE * pause), dtype=np.int16)
        parts = [np.zeros(int(OPUS_RATE * start_after), dtype=np.int16)]
        for wav in wavs:
            parts += [_read_mono_48k(wav), gap]
        self.speech = np.concatenate(parts)
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        count = OPUS_RATE // 50
        delay = self._start + self.sent / OPUS_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self.speech[self.sent : self.sent + count]
        if len(chunk) < count:
            chunk = np.concatenate([chunk, np.zeros(count - len(chunk), dtype=np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = OPUS_RATE
        frame.pts = self.sent
        frame.time_base = Fraction(1, OPUS_RATE)
        self.sent += count
        return frame
