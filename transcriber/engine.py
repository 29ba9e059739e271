"""Speech to text: the transcriber interface and its faster-whisper implementation.

Blocking and CPU-bound: run it in a worker (`transcriber.worker`), never on an event
loop. One model is loaded per worker and reused for every job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from transcriber.audio import AudioError, chunks

__all__ = ["AudioError", "Segment", "Transcriber", "Transcript", "WhisperTranscriber"]


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the file
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str  # "" for silence
    language: str | None  # ISO 639-1, None when nothing was said
    duration: float  # seconds of audio
    segments: tuple[Segment, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "duration": self.duration,
            "segments": [[s.start, s.end, s.text] for s in self.segments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            text=str(data["text"]),
            language=data.get("language"),
            duration=float(data["duration"]),
            segments=tuple(Segment(float(a), float(b), str(t)) for a, b, t in data["segments"]),
        )


class Transcriber(Protocol):
    def transcribe(self, path: Path) -> Transcript:
        """The speech in an audio (or video) file; AudioError when it cannot be read."""
        ...


class WhisperTranscriber:
    """faster-whisper (CTranslate2), int8 on the CPU, language detected per file.

    `batch_size` above 1 transcribes each chunk's voiced parts in batches
    (faster-whisper's BatchedInferencePipeline); 1 decodes them one after another.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 2,
        beam_size: int = 5,
        batch_size: int = 1,
        chunk_seconds: float = 600.0,
    ) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self.batched = BatchedInferencePipeline(self.model) if batch_size > 1 else None
        self.beam_size = beam_size
        self.batch_size = batch_size
        self.chunk_seconds = chunk_seconds

    def transcribe(self, path: Path) -> Transcript:
        language: str | None = None
        segments: list[Segment] = []
        duration = 0.0
        for offset, samples in chunks(path, self.chunk_seconds):
            duration = offset + len(samples) / 16_000
            if self.batched is not None:
                found, info = self.batched.transcribe(
                    samples,
                    language=language,
                    beam_size=self.beam_size,
                    batch_size=self.batch_size,
                )
            else:
                found, info = self.model.transcribe(
                    samples,
                    language=language,
                    beam_size=self.beam_size,
                    vad_filter=True,
                    condition_on_previous_text=False,
                )
            spoken = [
                Segment(round(offset + s.start, 3), round(offset + s.end, 3), s.text.strip())
                for s in found
                if s.text.strip()
            ]
            if spoken and language is None:
                language = info.language  # the first words decide for the rest
            segments.extend(spoken)
        return Transcript(
            text=" ".join(s.text for s in segments),
            language=language,
            duration=round(duration, 3),
            segments=tuple(segments),
        )


def webvtt(transcript: Transcript) -> str:
    """Captions (WebVTT) from a transcript's segments."""
    lines = ["WEBVTT", ""]
    for number, segment in enumerate(transcript.segments, 1):
        text = segment.text.replace("&", "&amp;").replace("<", "&lt;").replace("-->", "->")
        lines += [str(number), f"{_stamp(segment.start)} --> {_stamp(segment.end)}", text, ""]
    return "\n".join(lines)


def _stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"
