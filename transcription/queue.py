"""The transcription queue: voice messages get their text, recordings their captions.

The design: transcription/DESIGN.md, *queue.py*."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from store.transcriptions import Job, TranscriptionStore
from transcriber.audio import AudioError
from transcriber.engine import Transcript
from transcriber.pool import Pool, WorkerFailed
from transcription.jobs import Jobs, StoreJobs

logger = logging.getLogger(__name__)

BACKOFF = (5.0, 30.0, 120.0)  # seconds before the 2nd, 3rd, 4th attempt
IDLE_POLL = 30.0
STREAM_WAIT = 1.0  # a cluster's queue: longest a read blocks (delayed jobs move this often)


@dataclass(frozen=True)
class Handler:
    """What becomes of a kind of job: `done(job, transcript)` or `failed(job, reason)`."""

    done: Callable[[Job, Transcript], Awaitable[None]]
    failed: Callable[[Job, str], Awaitable[None]]


class TranscriptionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.jobs = Counter(
            "parta_transcription_jobs",
            "Transcription jobs finished, by kind and outcome (done, failed, retried, refused)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.backlog = Gauge(
            "parta_transcription_backlog",
            "Transcription jobs waiting or running",
            registry=registry,
        )
        self.audio_seconds = Counter(
            "parta_transcription_audio_seconds",
            "Seconds of audio transcribed",
            registry=registry,
        )
        self.real_time_factor = Histogram(
            "parta_transcription_real_time_factor",
            "Worker CPU seconds per second of audio, per job",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0),
            registry=registry,
        )


class Transcription:
    def __init__(
        self,
        store: TranscriptionStore,
        pool: Pool | None,
        metrics: TranscriptionMetrics,
        *,
        handlers: dict[str, Handler] | None = None,
        jobs: Jobs | None = None,
        on_pending: Callable[[int], None] | None = None,
        max_backlog: int = 10_000,
        max_attempts: int = 3,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:
        """`pool` None: this node queues jobs for others (a cluster) but runs none.
        `handlers`: what becomes of each kind of job; `on_pending`: told how many jobs
        wait in a cluster's queue."""
        self.store = store
        self.pool = pool
        self.jobs: Jobs = jobs or StoreJobs(store)
        self.on_pending = on_pending
        self.metrics = metrics
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.max_backlog = max_backlog
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._backlog = 0
        self._stopping = False

    async def submit(self, kind: str, target_id: str, path: Path) -> Job | None:
        """Queue a job; None when the backlog is full (the caller was told: failed)."""
        if self._backlog >= self.max_backlog:
            self.metrics.jobs.labels(kind, "refused").inc()
            await self.handlers[kind].failed(
                _refused(kind, target_id, path), "too many waiting to be transcribed; try later"
            )
            return None
        job = await self.store.add(kind, target_id, str(path), _now())
        try:
            await self.jobs.queued(job)
        except Exception as exc:  # Redis away: the job waits in the store, swept in later
            logger.warning("transcription: job %s kept for later: %s", job.id, exc)
        self._backlog += 1
        self.metrics.backlog.set(self._backlog)
        self._wake.set()
        return job

    async def run(self) -> None:
        recovered = await self.jobs.start()
        if recovered:
            logger.info("transcription: %d jobs left running before are pending again", recovered)
        await self._count()
        if self.pool is None:
            return  # others transcribe
        while not self._stopping:
            self._wake.clear()
            free = self.pool.settings.workers - len(self._running)
            if free > 0:
                try:
                    taken = await self.jobs.take(free, STREAM_WAIT)
                except Exception as exc:  # Redis away for a moment
                    logger.warning("transcription: cannot take jobs: %s", exc)
                    taken = []
                    await asyncio.sleep(STREAM_WAIT)
                for job in taken:
                    task = asyncio.create_task(self._one(job), name=f"transcribe-{job.id}")
                    self._running.add(task)
                    task.add_done_callback(self._finished)
                if self.jobs.distributed:
                    continue  # take() waited already
            await self._sleep()

    async def _sleep(self) -> None:
        delay = STREAM_WAIT if self.jobs.distributed else IDLE_POLL
        due = await self.store.next_due()
        if due is not None:
            delay = min(delay, max(0.05, (due - _now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def _count(self) -> None:
        counts = await self.store.counts()
        self._backlog = counts.get("pending", 0) + counts.get("running", 0)
        self.metrics.backlog.set(self._backlog)
        if self.on_pending is not None:
            self.on_pending(await self.jobs.pending())

    async def _one(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                await self.jobs.failed(job, f"no handler for {job.kind}")
                return
            assert self.pool is not None
            try:
                done = await self.pool.transcribe(Path(job.path))
            except AudioError as error:
                await self._fail(job, handler, str(error))
                return
            except WorkerFailed as error:
                if job.attempts >= self.max_attempts:
                    await self._fail(job, handler, str(error))
                    return
                wait = self.backoff[min(job.attempts - 1, len(self.backoff) - 1)]
                logger.warning("transcription %s: %s; again in %.0f s", job.id, error, wait)
                self.metrics.jobs.labels(job.kind, "retried").inc()
                await self.jobs.retry(job, str(error), _now() + timedelta(seconds=wait))
                return
            transcript = done.transcript
            await handler.done(job, transcript)
            await self.jobs.done(job)
            self.metrics.jobs.labels(job.kind, "done").inc()
            self.metrics.audio_seconds.inc(transcript.duration)
            if transcript.duration > 0:
                self.metrics.real_time_factor.observe(done.cpu_seconds / transcript.duration)
        except asyncio.CancelledError:
            raise  # shutting down: recovered at the next start, or by another node
        except Exception:
            logger.exception("transcription %s", job.id)
            with contextlib.suppress(Exception):
                await self.jobs.failed(job, "internal error")
        finally:
            await self._count()

    async def _fail(self, job: Job, handler: Handler, reason: str) -> None:
        await handler.failed(job, reason)
        await self.jobs.failed(job, reason)
        self.metrics.jobs.labels(job.kind, "failed").inc()

    def stop(self) -> None:
        """Take no more jobs; `run` returns after its current wait (at most a second for
        a cluster's queue: a blocking Redis read is never cancelled)."""
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self.jobs.stop()
        if self.pool is not None:
            await self.pool.close()


def _refused(kind: str, target_id: str, path: Path) -> Job:
    return Job(
        id="",
        kind=kind,
        target_id=target_id,
        path=str(path),
        status="failed",
        attempts=0,
        reason=None,
        created_at=_now(),
    )


def _now() -> datetime:
    return datetime.now(UTC)
