"""The speech helpers themselves: the word error rate and the Opus encoding."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from tests.support.media import dominant_frequency
from tests.support.speech import (
    ENGLISH,
    RUSSIAN,
    normalise,
    silence,
    to_opus,
    word_error_rate,
)


def test_word_error_rate_ignores_case_punctuation_and_yo() -> None:
    assert word_error_rate("Ёлка — в саду!", "елка в саду") == 0.0
    assert word_error_rate("«Урок» начался.", "урок, начался") == 0.0
    assert normalise("  Hello,\tWORLD…  ") == ["hello", "world"]


def test_word_error_rate_counts_edits_per_reference_word() -> None:
    assert word_error_rate("the cat sat down", "the cat sat down") == 0.0
    assert word_error_rate("the cat sat down", "the dog sat down") == 0.25  # substituted
    assert word_error_rate("the cat sat down", "the cat down") == 0.25  # deleted
    assert word_error_rate("the cat sat down", "the cat sat right down") == 0.25  # inserted
    assert word_error_rate("the cat sat down", "") == 1.0
    assert word_error_rate("a b", "c d e f") == 2.0  # more errors than words
    with pytest.raises(ValueError):
        word_error_rate(" . ", "anything")


def test_sentences_have_no_numerals() -> None:
    for sentence in RUSSIAN + ENGLISH:
        assert not any(c.isdigit() for c in sentence)
        assert 8 <= len(normalise(sentence)) <= 15


def _tone_wav(path: Path, frequency: float, seconds: float, rate: int) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def _decode(path: Path) -> tuple[str, int, np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        rate = stream.rate
        frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
    samples = np.concatenate(frames).astype(np.float64)
    return codec, rate, samples


@pytest.mark.parametrize("container", ["webm", "ogg"])
def test_to_opus_keeps_the_sound(tmp_path: Path, container: str) -> None:
    wav = _tone_wav(tmp_path / "tone.wav", 440.0, 1.01, 22050)
    out = to_opus(wav, tmp_path / f"tone.{container}", container)
    codec, rate, samples = _decode(out)
    assert codec == "opus"
    assert rate == 48000
    assert 1.0 <= len(samples) / 48000 <= 1.1
    assert abs(dominant_frequency(samples, 48000) - 440.0) < 5


@pytest.mark.parametrize("container", ["webm", "ogg"])
@pytest.mark.parametrize("noise_dbfs", [None, -60.0])
def test_silence_is_quiet(tmp_path: Path, container: str, noise_dbfs: float | None) -> None:
    out = silence(tmp_path / f"quiet.{container}", 2.0, container, noise_dbfs)
    codec, _, samples = _decode(out)
    assert codec == "opus"
    assert 2.0 <= len(samples) / 48000 <= 2.1
    assert float(np.abs(samples).max()) < 0.01  # Opus decodes to float, full scale 1.0


def test_to_opus_refuses_an_unknown_container(tmp_path: Path) -> None:
    wav = _tone_wav(tmp_path / "tone.wav", 440.0, 0.1, 16000)
    with pytest.raises(ValueError):
        to_opus(wav, tmp_path / "tone.mp4", "mp4")
