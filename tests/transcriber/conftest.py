"""Real speech and the real packaged models, made once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.speech import ENGLISH, RUSSIAN, speak_english, speak_russian, to_opus
from transcriber.engine import WhisperTranscriber
from transcriber.models import default_cache_dir, resolve


@dataclass(frozen=True)
class Spoken:
    text: str
    language: str
    wav: Path
    opus: Path  # as a browser sends it: Opus in WebM (odd ones) or Ogg (even ones)


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> list[Spoken]:
    folder = tmp_path_factory.mktemp("speech")
    spoken = []
    for language, sentences, speak in (
        ("ru", RUSSIAN, speak_russian),
        ("en", ENGLISH, speak_english),
    ):
        for n, text in enumerate(sentences):
            wav = speak(text, folder / f"{language}{n}.wav")
            container = "webm" if n % 2 else "ogg"
            opus = to_opus(wav, folder / f"{language}{n}.{container}", container)
            spoken.append(Spoken(text, language, wav, opus))
    return spoken


@pytest.fixture(scope="session")
def base_model() -> Path:
    return resolve("base", default_cache_dir())


@pytest.fixture(scope="session")
def base(base_model: Path) -> Iterator[WhisperTranscriber]:
    yield WhisperTranscriber(base_model, threads=2)


@pytest.fixture(scope="session")
def tiny_en() -> Iterator[WhisperTranscriber]:
    yield WhisperTranscriber(resolve("tiny.en", default_cache_dir()), threads=2)
