"""Measure speech to text on this machine: the real-time factor of each packaged model,
and the throughput of the transcriber pool with several voice messages at once.

    python -m benchmarks.transcription -o benchmarks/results/transcription-default.json
    python -m benchmarks.transcription --quick      # tiny: a smoke test

1. Real-time factor (RTF): seconds of compute per second of audio, in process
   (transcriber.engine.WhisperTranscriber), as wall-clock time and as CPU time of this
   process (all threads). `base` on Russian and on English, `tiny.en` on English; each
   with 1 and 2 threads, beam size 5 and 1 (greedy). Short clips: sentences of
   tests/support/speech.py spoken by Festival or espeak-ng and encoded to Opus, as a
   browser sends a voice message (4-6 s each). A long clip (about a minute: Russian
   sentences joined with pauses) is also run with batch sizes 4 and 8, through
   faster-whisper's BatchedInferencePipeline. Each configuration loads its model (the
   load time is reported), transcribes one clip unmeasured, then makes `--repeats`
   measured passes over its clips: the median and the spread (min, max) of the passes
   are reported, with the word error rate (WER) of the transcripts beside them so that
   speed is never bought with accuracy silently.
2. The pool (transcriber.pool.Pool, worker processes as the server runs them): N voice
   messages (the Russian sentences) submitted at once, with 1 worker of 2 threads and
   with 2 workers of 1 thread each. Messages per minute, audio seconds per wall second,
   and the time from submit to done (p50, p99) once the workers are up; the one-off
   start of a worker process (Python, faster-whisper and the model loaded, up to its
   `ready` line) is measured on its own.

Other processes on the machine skew the figures: the load average and the CPU the rest
of the machine used during each measurement (`other_cpu_cores`) are reported with them.
Only JSON goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import statistics
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import procstat
from tests.support.speech import (
    ENGLISH,
    RUSSIAN,
    normalise,
    speak_english,
    speak_russian,
    to_opus,
    word_error_rate,
)
from transcriber.engine import Transcript, WhisperTranscriber
from transcriber.models import default_cache_dir, resolve
from transcriber.pool import Done, Pool, PoolSettings

logger = logging.getLogger("benchmarks.transcription")

# The figures the issue quotes: `base` int8 on a short Russian clip with two threads,
# and `tiny.en`, in seconds of compute per second of audio.
REFERENCE_RTF = {"base/ru/2 threads": 0.34, "tiny.en/en": 0.1}


@dataclass(frozen=True)
class Clip:
    text: str
    language: str
    path: Path


# -- speech ---------------------------------------------------------------------------------


def _speak(language: str) -> tuple[Sequence[str], Callable[[str, Path], Path]]:
    if language == "ru":
        return RUSSIAN, speak_russian
    return ENGLISH, speak_english


def make_short_clips(folder: Path, language: str, count: int) -> list[Clip]:
    """The first `count` sentences of a language as Opus voice messages, in Ogg and
    WebM by turns (as tests/transcriber/conftest.py makes them)."""
    sentences, speak = _speak(language)
    clips = []
    for n, text in enumerate(sentences[:count]):
        wav = speak(text, folder / f"{language}{n}.wav")
        container = "webm" if n % 2 else "ogg"
        clips.append(
            Clip(text, language, to_opus(wav, folder / f"{language}{n}.{container}", container))
        )
    return clips


def make_long_clip(folder: Path, language: str, seconds: float, pause: float) -> Clip:
    """A language's sentences, over again until `seconds`, joined with `pause` seconds of
    silence, as one Opus file."""
    sentences, speak = _speak(language)
    frames: list[bytes] = []
    texts: list[str] = []
    params: tuple[int, int, int] | None = None  # channels, sample width, rate
    total = 0.0
    n = 0
    while total < seconds:
        text = sentences[n % len(sentences)]
        wav = speak(text, folder / f"long-{language}{n}.wav")
        with wave.open(str(wav)) as source:
            these = (source.getnchannels(), source.getsampwidth(), source.getframerate())
            if params is None:
                params = these
            elif these != params:
                raise RuntimeError(f"{wav}: {these}, not {params} as the sentences before")
            count = source.getnframes()
            frames.append(source.readframes(count))
        channels, width, rate = params
        silence = bytes(round(pause * rate) * channels * width)
        frames.append(silence)
        texts.append(text)
        total += count / rate + pause
        n += 1
    assert params is not None
    joined = folder / f"long-{language}.wav"
    with wave.open(str(joined), "wb") as out:
        out.setnchannels(params[0])
        out.setsampwidth(params[1])
        out.setframerate(params[2])
        out.writeframes(b"".join(frames))
    return Clip(" ".join(texts), language, to_opus(joined, folder / f"long-{language}.ogg", "ogg"))


def pooled_wer(pairs: Sequence[tuple[str, str]]) -> float:
    """Word errors over all (reference, transcript) pairs, per reference word."""
    words = [len(normalise(reference)) for reference, _ in pairs]
    errors = [word_error_rate(ref, hyp) * n for (ref, hyp), n in zip(pairs, words, strict=True)]
    return round(sum(errors) / sum(words), 4)


# -- figures --------------------------------------------------------------------------------


def spread(values: Sequence[float], digits: int = 4) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Watch:
    """Wall time, this process's CPU time and the machine's busy CPU time over a span."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.system = procstat.SystemCpu.read().busy

    def stop(self) -> tuple[float, float, float]:
        """(wall, own CPU, machine-wide busy CPU) seconds since the start."""
        return (
            time.perf_counter() - self.wall,
            time.process_time() - self.cpu,
            procstat.SystemCpu.read().busy - self.system,
        )


# -- part 1: real-time factor ---------------------------------------------------------------


def measure_rtf(
    model: str,
    model_dir: Path,
    clips: Sequence[Clip],
    *,
    kind: str,
    threads: int,
    beam_size: int,
    batch_size: int,
    repeats: int,
) -> dict[str, Any]:
    loaded = time.perf_counter()
    engine = WhisperTranscriber(
        model_dir, threads=threads, beam_size=beam_size, batch_size=batch_size
    )
    load_seconds = time.perf_counter() - loaded
    engine.transcribe(clips[0].path)  # unmeasured: first-call costs
    load_before = os.getloadavg()[0]
    walls: list[float] = []
    cpus: list[float] = []
    others: list[float] = []
    wers: list[float] = []
    audio = 0.0
    languages: set[str | None] = set()
    for _ in range(repeats):
        transcripts: list[Transcript] = []
        watch = Watch()
        for clip in clips:
            transcripts.append(engine.transcribe(clip.path))
        wall, cpu, busy = watch.stop()
        audio = sum(t.duration for t in transcripts)
        walls.append(wall / audio)
        cpus.append(cpu / audio)
        others.append(max(0.0, busy - cpu) / wall)
        wers.append(pooled_wer([(c.text, t.text) for c, t in zip(clips, transcripts, strict=True)]))
        languages.update(t.language for t in transcripts)
    row: dict[str, Any] = {
        "model": model,
        "language": clips[0].language,
        "clip": kind,
        "clips": len(clips),
        "threads": threads,
        "beam_size": beam_size,
        "batch_size": batch_size,
        "audio_seconds": round(audio, 2),
        "repeats": repeats,
        "wall_rtf": spread(walls),
        "cpu_rtf": spread(cpus),
        "wer": spread(wers),
        "languages_detected": sorted(str(lang) for lang in languages),
        "load_seconds": round(load_seconds, 3),
        "other_cpu_cores": spread(others, 2),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    logger.info(
        "%s %s %s t=%d beam=%d batch=%d: wall RTF %.3f, CPU RTF %.3f, WER %.3f",
        model,
        clips[0].language,
        kind,
        threads,
        beam_size,
        batch_size,
        row["wall_rtf"]["median"],
        row["cpu_rtf"]["median"],
        row["wer"]["median"],
    )
    return row


def rtf_part(args: argparse.Namespace, folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cache = default_cache_dir()
    short = {
        lang: make_short_clips(folder, lang, args.sentences)
        for lang in {lang for _, lang in args.pairs}
    }
    long = (
        make_long_clip(folder, "ru", args.long_seconds, args.pause)
        if args.long_seconds > 0
        else None
    )
    clips_info: dict[str, Any] = {
        f"short/{lang}": {
            "count": len(items),
            "files": [c.path.name for c in items],
        }
        for lang, items in short.items()
    }
    if long is not None:
        clips_info["long/ru"] = {"files": [long.path.name], "words": len(normalise(long.text))}
    rows: list[dict[str, Any]] = []
    for model, lang in args.pairs:
        model_dir = resolve(model, cache)
        for threads in args.threads:
            for beam in args.beams:
                for batch in args.short_batches:
                    rows.append(
                        measure_rtf(
                            model,
                            model_dir,
                            short[lang],
                            kind="short",
                            threads=threads,
                            beam_size=beam,
                            batch_size=batch,
                            repeats=args.repeats,
                        )
                    )
    if long is not None:
        model_dir = resolve(args.long_model, cache)
        for threads in args.threads:
            batches = args.batches if threads > 1 else args.batches_one_thread
            for beam in args.beams:
                for batch in batches:
                    rows.append(
                        measure_rtf(
                            args.long_model,
                            model_dir,
                            [long],
                            kind="long",
                            threads=threads,
                            beam_size=beam,
                            batch_size=batch,
                            repeats=args.long_repeats,
                        )
                    )
    return clips_info, rows


# -- part 2: the pool -----------------------------------------------------------------------


async def worker_start_seconds(settings: PoolSettings) -> float:
    """From starting `python -m transcriber.worker` to its `ready` line."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *settings.command(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=procstat.die_with_parent,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        elapsed = time.perf_counter() - started
        if b'"ready": true' not in line:
            raise RuntimeError(f"the worker did not start: {line!r}")
        process.stdin.close()
        await asyncio.wait_for(process.wait(), 10)
        return elapsed
    finally:
        await procstat.terminate(process)


async def pool_run(
    args: argparse.Namespace,
    messages: Sequence[Clip],
    workers: int,
    threads: int,
    beam: int,
    batch: int,
) -> dict[str, Any]:
    settings = PoolSettings(
        model=args.pool_model,
        cache_dir=default_cache_dir(),
        workers=workers,
        threads=threads,
        beam_size=beam,
        batch_size=batch,
    )
    starts = [await worker_start_seconds(settings) for _ in range(args.start_repeats)]
    pool = Pool(settings)
    try:
        # the workers start on their first jobs: one each, at once, outside the figures
        cold = time.perf_counter()
        await asyncio.gather(*(pool.transcribe(messages[n].path) for n in range(workers)))
        cold_seconds = time.perf_counter() - cold
        if pool.started != workers:
            raise RuntimeError(f"{pool.started} workers started, not {workers}")
        runs: list[dict[str, float]] = []
        wers: list[float] = []
        for _ in range(args.pool_repeats):
            watch = Watch()
            load_before = os.getloadavg()[0]

            async def job(clip: Clip, submitted: float) -> tuple[Done, float]:
                done = await pool.transcribe(clip.path)
                return done, time.perf_counter() - submitted

            submitted = time.perf_counter()
            results = await asyncio.gather(*(job(c, submitted) for c in messages))
            wall, _, busy = watch.stop()
            latencies = [seconds for _, seconds in results]
            audio = sum(done.transcript.duration for done, _ in results)
            cpu = sum(done.cpu_seconds for done, _ in results)
            runs.append(
                {
                    "wall_seconds": wall,
                    "messages_per_minute": len(messages) / wall * 60,
                    "audio_seconds_per_wall_second": audio / wall,
                    "latency_p50_seconds": percentile(latencies, 0.5),
                    "latency_p99_seconds": percentile(latencies, 0.99),
                    "cpu_rtf": cpu / audio,
                    "audio_seconds": audio,
                    "other_cpu_cores": max(0.0, busy - cpu) / wall,
                    "load_average_before": load_before,
                }
            )
            wers.append(
                pooled_wer(
                    [
                        (c.text, d.transcript.text)
                        for c, (d, _) in zip(messages, results, strict=True)
                    ]
                )
            )
        if pool.started != workers:
            raise RuntimeError(f"a worker was replaced: {pool.started} started")
    finally:
        await pool.close()
    row: dict[str, Any] = {
        "workers": workers,
        "threads": threads,
        "beam_size": beam,
        "batch_size": batch,
        "model": args.pool_model,
        "messages": len(messages),
        "audio_seconds": round(runs[0]["audio_seconds"], 2),
        "repeats": len(runs),
        "worker_start_seconds": spread(starts, 3),
        "first_jobs_with_start_seconds": round(cold_seconds, 3),
        "wer": spread(wers),
    }
    for key in runs[0]:
        if key not in ("audio_seconds",):
            row[key] = spread([r[key] for r in runs], 3)
    logger.info(
        "pool %d x %d threads, beam %d, batch %d: %.1f messages/min, %.2f audio s per s, "
        "p50 %.2f s, p99 %.2f s, worker start %.2f s",
        workers,
        threads,
        beam,
        batch,
        row["messages_per_minute"]["median"],
        row["audio_seconds_per_wall_second"]["median"],
        row["latency_p50_seconds"]["median"],
        row["latency_p99_seconds"]["median"],
        row["worker_start_seconds"]["median"],
    )
    return row


async def pool_part(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    sentences = make_short_clips(folder, args.pool_language, len(_speak(args.pool_language)[0]))
    messages = [sentences[n % len(sentences)] for n in range(args.jobs)]
    rows = []
    for workers, threads in args.pools:
        for beam in args.pool_beams:
            for batch in args.pool_batches:
                rows.append(await pool_run(args, messages, workers, threads, beam, batch))
    return rows


# -- the program ----------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _pairs(text: str) -> list[tuple[str, str]]:
    """model/language,...: base/ru,tiny.en/en"""
    pairs = []
    for part in text.split(","):
        model, _, language = part.partition("/")
        if language not in ("ru", "en"):
            raise argparse.ArgumentTypeError(f"{part!r}: the language is ru or en")
        pairs.append((model, language))
    return pairs


def _pools(text: str) -> list[tuple[int, int]]:
    """workersxthreads,...: 1x2,2x1"""
    pools = []
    for part in text.split(","):
        workers, _, threads = part.partition("x")
        pools.append((int(workers), int(threads)))
    return pools


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.transcription",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--pairs", type=_pairs, default=_pairs("base/ru,base/en,tiny.en/en"), help="model/lang")
    add("--threads", type=_ints, default=[1, 2])
    add("--beams", type=_ints, default=[5, 1])
    add("--sentences", type=int, default=3, help="short clips per language")
    add("--repeats", type=int, default=3, help="measured passes over the short clips")
    add("--short-batches", type=_ints, default=[1], help="batch sizes on the short clips")
    add("--long-model", default="base")
    add("--long-seconds", type=float, default=60.0, help="long clip; 0 for none")
    add("--pause", type=float, default=0.6, help="silence between its sentences")
    add("--long-repeats", type=int, default=2)
    add("--batches", type=_ints, default=[1, 4, 8], help="long clip, more than 1 thread")
    add("--batches-one-thread", type=_ints, default=[1, 8], help="long clip, 1 thread")
    add("--pool-model", default="base")
    add("--pool-language", default="ru", choices=["ru", "en"])
    add("--pools", type=_pools, default=_pools("1x2,2x1"), help="workers x threads")
    add("--pool-beams", type=_ints, default=[5, 1])
    add("--pool-batches", type=_ints, default=[1])
    add("--jobs", type=int, default=8, help="voice messages submitted at once")
    add("--pool-repeats", type=int, default=3)
    add("--start-repeats", type=int, default=2, help="worker starts timed alone")
    add("--skip-pool", action="store_true")
    add("--quick", action="store_true", help="tiny.en, one short clip, 1 thread, 2 jobs")
    add("--output", "-o", type=Path)
    return parser


def quick(args: argparse.Namespace) -> None:
    args.pairs = [("tiny.en", "en")]
    args.threads = [1]
    args.beams = [5]
    args.short_batches = [1]
    args.sentences = 1
    args.repeats = 1
    args.long_seconds = 0.0
    args.pool_model = "tiny.en"
    args.pool_language = "en"
    args.pools = [(1, 1)]
    args.pool_beams = [5]
    args.pool_batches = [1]
    args.jobs = 2
    args.pool_repeats = 1
    args.start_repeats = 1


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "parta transcription",
        "machine": procstat.machine_info(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "reference_rtf": REFERENCE_RTF,
    }
    with tempfile.TemporaryDirectory(prefix="parta-bench-stt-") as tmp:
        folder = Path(tmp)
        clips, rows = await asyncio.to_thread(rtf_part, args, folder)
        report["clips"] = clips
        report["rtf"] = rows
        if not args.skip_pool:
            (folder / "pool").mkdir()
            report["pool"] = await pool_part(args, folder / "pool")
    report["load_average_at_end"] = list(os.getloadavg())
    return report


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.quick:
        quick(args)
    procstat.run_and_report(_main(args), args.output)


if __name__ == "__main__":
    main()
