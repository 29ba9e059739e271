"""Transcriber processes: a model loaded once per process and reused, at most `workers`
jobs at once, a process that dies replaced, a model that cannot load reported."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.speech import word_error_rate
from tests.transcriber.conftest import Spoken
from transcriber.audio import AudioError
from transcriber.models import default_cache_dir
from transcriber.pool import Pool, PoolSettings, WorkerFailed


def _settings(**overrides: object) -> PoolSettings:
    values: dict[str, object] = {"model": "base", "cache_dir": default_cache_dir()}
    values.update(overrides)
    return PoolSettings(**values)  # type: ignore[arg-type]


async def test_one_process_serves_job_after_job(speech: list[Spoken], tmp_path: Path) -> None:
    pool = Pool(_settings(workers=1))
    try:
        russian = [s for s in speech if s.language == "ru"][:2]
        for item in russian:
            done = await pool.transcribe(item.opus)
            assert word_error_rate(item.text, done.transcript.text) < 0.5
            assert done.transcript.language == "ru" and done.cpu_seconds > 0
        assert pool.started == 1  # the model was loaded once
        garbage = tmp_path / "bad.ogg"
        garbage.write_bytes(b"OggS" + b"\x01" * 4000)
        with pytest.raises(AudioError):
            await pool.transcribe(garbage)
        assert pool.started == 1  # bad audio does not cost the process
    finally:
        await pool.close()


async def test_at_most_workers_jobs_run_at_once(speech: list[Spoken]) -> None:
    pool = Pool(_settings(workers=2, threads=1))
    try:
        seen = 0

        async def watch() -> None:
            nonlocal seen
            while True:
                seen = max(seen, pool.busy)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        items = [s for s in speech if s.language == "ru"][:4]
        results = await asyncio.gather(*(pool.transcribe(s.opus) for s in items))
        watcher.cancel()
        assert all(r.transcript.text for r in results)
        assert pool.started == 2 and seen == 2
    finally:
        await pool.close()


async def test_a_process_that_dies_fails_its_job_and_is_replaced(speech: list[Spoken]) -> None:
    pool = Pool(_settings(workers=1))
    try:
        item = next(s for s in speech if s.language == "ru")
        await pool.transcribe(item.opus)
        job = asyncio.create_task(pool.transcribe(item.opus))
        await asyncio.sleep(0.2)  # the job is in the process
        (worker,) = pool._all
        worker.process.kill()
        with pytest.raises(WorkerFailed, match="stopped"):
            await job
        done = await pool.transcribe(item.opus)  # a new process
        assert done.transcript.text and pool.started == 2
    finally:
        await pool.close()


async def test_a_model_that_cannot_load_is_reported(speech: list[Spoken], tmp_path: Path) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (broken / name).write_text("{}")
    pool = Pool(_settings(model=str(broken)))
    try:
        with pytest.raises(WorkerFailed, match="could not be loaded"):
            await pool.transcribe(speech[0].opus)
    finally:
        await pool.close()
