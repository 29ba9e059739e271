"""Transcriber processes, seen from an event loop.

`Pool.transcribe(path)` hands a job to an idle worker process (`transcriber.worker`),
starting one when fewer than `workers` run, else waiting for one to be free: at most
`workers` jobs run at once. A process loads its model once and serves job after job; it
is started on the first job, not with the server. A process that dies or overruns its
time is killed and replaced on the next job; its job fails with WorkerFailed, which the
caller may retry. Unreadable audio is AudioError, which retrying will not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transcriber.audio import AudioError
from transcriber.engine import Transcript

logger = logging.getLogger(__name__)

READY_TIMEOUT = 120.0  # loading a model, the first time joining it too
STREAM_LIMIT = 64 * 1024 * 1024  # one answer line: a long lesson's segments


class WorkerFailed(Exception):
    """The worker died, overran its time or could not load its model."""


@dataclass(frozen=True)
class PoolSettings:
    model: str = "base"
    cache_dir: Path = Path("models")
    workers: int = 1
    threads: int = 2
    beam_size: int = 5
    batch_size: int = 1
    job_timeout: float = 3600.0
    python: str = sys.executable
    extra_args: tuple[str, ...] = field(default=())

    def command(self) -> list[str]:
        return [
            self.python,
            "-m",
            "transcriber.worker",
            "--model",
            self.model,
            "--cache-dir",
            str(self.cache_dir),
            "--threads",
            str(self.threads),
            "--beam-size",
            str(self.beam_size),
            "--batch-size",
            str(self.batch_size),
            *self.extra_args,
        ]


@dataclass(frozen=True)
class Done:
    transcript: Transcript
    cpu_seconds: float


class _Process:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.jobs = 0

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def ask(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write((json.dumps(job) + "\n").encode())
        await stdin.drain()
        line = await asyncio.wait_for(stdout.readline(), timeout)
        if not line:
            raise ConnectionError("the transcriber process ended")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()


class Pool:
    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self._idle: list[_Process] = []
        self._slots = asyncio.Semaphore(settings.workers)
        self._all: set[_Process] = set()
        self.started = 0  # processes started, over the pool's life
        self.closed = False

    @property
    def busy(self) -> int:
        return len(self._all) - len(self._idle)

    async def transcribe(self, path: Path) -> Done:
        async with self._slots:
            if self.closed:
                raise WorkerFailed("the transcriber is shutting down")
            worker = self._idle.pop() if self._idle else await self._start()
            try:
                answer = await worker.ask(
                    {"id": str(worker.jobs), "path": str(path)}, self.settings.job_timeout
                )
            except (TimeoutError, ConnectionError, BrokenPipeError, json.JSONDecodeError) as error:
                await self._drop(worker)
                code = worker.process.returncode
                reason = (
                    f"the transcriber took longer than {self.settings.job_timeout:.0f} s"
                    if isinstance(error, TimeoutError)
                    else f"the transcriber process stopped (exit code {code})"
                )
                raise WorkerFailed(reason) from error
            except BaseException:
                await self._drop(worker)  # cancelled mid-job: its answer would be stale
                raise
            worker.jobs += 1
            self._idle.append(worker)
        if not answer.get("ok"):
            raise AudioError(str(answer.get("reason", "the audio cannot be read")))
        return Done(Transcript.from_dict(answer["transcript"]), float(answer["cpu_seconds"]))

    async def _start(self) -> _Process:
        process = await asyncio.create_subprocess_exec(
            *self.settings.command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=STREAM_LIMIT,
        )
        worker = _Process(process)
        self._all.add(worker)
        self.started += 1
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)
            hello: dict[str, Any] = json.loads(line) if line else {}
        except (TimeoutError, json.JSONDecodeError):
            hello = {}
        if not hello.get("ready"):
            await self._drop(worker)
            raise WorkerFailed(str(hello.get("reason", "the transcriber process did not start")))
        logger.info("transcriber process %d ready with %s", process.pid, hello.get("path"))
        return worker

    async def _drop(self, worker: _Process) -> None:
        self._all.discard(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        await worker.kill()

    async def close(self) -> None:
        self.closed = True
        for worker in list(self._all):
            stdin = worker.process.stdin
            if stdin is not None and worker.alive:
                stdin.close()
        for worker in list(self._all):
            try:
                await asyncio.wait_for(worker.process.wait(), 5)
            except TimeoutError:
                await worker.kill()
        self._all.clear()
        self._idle.clear()
