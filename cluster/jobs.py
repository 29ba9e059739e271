"""The cluster's transcription queue: a Redis stream with one consumer group; a job
whose node died is taken over by another (cluster/DESIGN.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from cluster.text import text
from store.transcriptions import Job, TranscriptionStore
from transcription.jobs import JobEvents

logger = logging.getLogger(__name__)

STREAM = "parta:jobs"


GROUP = "transcribers"


DELAYED = "parta:jobs:delayed"


SWEEP_LOCK = "parta:jobs:sweep"


SWEEP_SECONDS = 30


# KEYS: the delayed set, the stream; ARGV: now (s). Move what is due, each exactly once.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, job in ipairs(due) do
    if redis.call('ZREM', KEYS[1], job) == 1 then
        redis.call('XADD', KEYS[2], '*', 'job', job)
    end
end
return #due
"""


class StreamJobs:
    """A cluster: a Redis stream with a consumer group; the store keeps the outcomes."""

    distributed = True

    def __init__(
        self,
        store: TranscriptionStore,
        redis: Redis,
        consumer: str,
        events: JobEvents,
        *,
        claim_after: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: seconds since the epoch by the cluster's clock, which every time
        written for another node to compare (a job's last sign of life, when a retry is
        due) is read from."""
        self.store = store
        self.clock = clock
        self.redis = redis
        self.consumer = consumer
        self.events = events
        self.claim_after = claim_after
        self._entries: dict[str, str] = {}  # job id -> its stream entry, while running here
        self._promote = redis.register_script(_PROMOTE)
        self._toucher: asyncio.Task[None] | None = None
        self._swept_at = time.monotonic()

    async def start(self) -> int:
        with contextlib.suppress(ResponseError):  # BUSYGROUP: another node made it
            await self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        self._toucher = asyncio.create_task(self._touching(), name="job touch")
        return 0

    async def queued(self, job: Job) -> None:
        await self.redis.xadd(STREAM, {"job": job.id})
        self.events.job("queued")

    async def take(self, limit: int, wait: float) -> list[Job]:
        """Up to `limit` jobs: first any a dead node left, then new ones (waiting up to
        `wait` seconds for one)."""
        try:
            return await self._take(limit, wait)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis restarted empty: the group again; the store still has every job
            logger.warning("jobs: the queue was lost with Redis; making it again")
            with contextlib.suppress(ResponseError):
                await self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
            await self.sweep()
            return []

    async def sweep(self) -> int:
        """Queue again the store's pending jobs that the queue does not hold (Redis
        restarted empty, or was away when they were queued), and the running ones it
        does not hold whose node stopped touching them (it died when Redis lost them);
        how many. One node at a time sweeps, at most every SWEEP_SECONDS. A job queued
        twice still runs once: only a pending one starts."""
        self._swept_at = time.monotonic()
        if not await self.redis.set(SWEEP_LOCK, self.consumer, nx=True, ex=SWEEP_SECONDS):
            return 0
        held = {
            text(fields[b"job"])
            for _, fields in cast(list[Any], await self.redis.xrange(STREAM))
            if b"job" in fields
        }
        held |= {text(job) for job in cast(list[Any], await self.redis.zrange(DELAYED, 0, -1))}
        missing = [job for job in await self.store.pending_ids() if job not in held]
        since = self._now() - timedelta(seconds=self.claim_after)
        lost = [
            job
            for job in await self.store.abandoned(since)
            if job not in held and job not in self._entries
        ]
        missing += await self.store.requeue_abandoned(
            lost, since, self._now(), "its node was lost with the queue"
        )
        for job_id in missing:
            await self.redis.xadd(STREAM, {"job": job_id})
        if missing:
            logger.info("jobs: queued %d pending jobs again that the queue had lost", len(missing))
        return len(missing)

    async def _take(self, limit: int, wait: float) -> list[Job]:
        if time.monotonic() - self._swept_at >= SWEEP_SECONDS:
            await self.sweep()
        await self._promote(keys=[DELAYED, STREAM], args=[repr(self.clock())])
        entries: list[tuple[str, str, bool]] = []
        reclaimed: list[Any] = await self.redis.xautoclaim(
            STREAM,
            GROUP,
            self.consumer,
            min_idle_time=int(self.claim_after * 1000),
            start_id="0-0",
            count=limit,
        )
        for entry_id, fields in reclaimed[1]:
            if fields:  # an entry deleted meanwhile comes back empty
                entries.append((text(entry_id), text(fields[b"job"]), True))
        if entries:
            self.events.job("reclaimed", len(entries))
            logger.info("jobs: took over %d from a node that stopped answering", len(entries))
        if len(entries) < limit:
            found = cast(
                list[Any],
                await self.redis.xreadgroup(
                    GROUP,
                    self.consumer,
                    {STREAM: ">"},
                    count=limit - len(entries),
                    block=max(1, int(wait * 1000)),
                ),
            )
            for _, items in found or ():
                for entry_id, fields in items:
                    entries.append((text(entry_id), text(fields[b"job"]), False))
        jobs = []
        for entry_id, job_id, taken_over in entries:
            job = await self.store.start(job_id, self._now(), taken_over=taken_over)
            if job is None:  # done already (a slow node finished it after all), or gone
                await self._ack(entry_id)
                continue
            self._entries[job.id] = entry_id
            jobs.append(job)
        if jobs:
            self.events.job("taken", len(jobs))
        return jobs

    async def done(self, job: Job) -> None:
        await self.store.done(job.id, self._now())
        await self._finish(job)

    async def failed(self, job: Job, reason: str) -> None:
        await self.store.failed(job.id, reason, self._now())
        await self._finish(job)

    async def retry(self, job: Job, reason: str, at: datetime) -> None:
        # `at` is by this node's wall clock: the same wait, by the cluster's
        at = self._now() + (at - datetime.now(UTC))
        await self.store.retry(job.id, reason, self._now(), at)
        await self.redis.zadd(DELAYED, {job.id: at.timestamp()})
        self.events.job("delayed")
        await self._finish(job)

    async def _finish(self, job: Job) -> None:
        entry_id = self._entries.pop(job.id, None)
        if entry_id is not None:
            await self._ack(entry_id)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def _ack(self, entry_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(STREAM, GROUP, entry_id)
            pipe.xdel(STREAM, entry_id)
            await pipe.execute()
        self.events.job("acked")

    async def _touching(self) -> None:
        """Keep the entries of the jobs running here ours (reset their idle time)."""
        while True:
            await asyncio.sleep(self.claim_after / 3)
            entries: list[int | bytes | str | memoryview[int]] = list(self._entries.values())
            if not entries:
                continue
            try:
                await self.store.touch(list(self._entries), self._now())
                await self.redis.xclaim(
                    STREAM, GROUP, self.consumer, min_idle_time=0, message_ids=entries, justid=True
                )
            except Exception as exc:
                logger.warning("jobs: could not renew running jobs: %s", exc)

    async def pending(self) -> int:
        summary = await self.redis.xpending(STREAM, GROUP)
        return int(summary["pending"])

    async def stop(self) -> None:
        """Give back what runs here: another node starts it at once."""
        if self._toucher is not None:
            self._toucher.cancel()
            await asyncio.gather(self._toucher, return_exceptions=True)
        for job_id, entry_id in list(self._entries.items()):
            with contextlib.suppress(Exception):
                await self.store.retry(job_id, "its node stopped", self._now(), self._now())
                await self.redis.xadd(STREAM, {"job": job_id})
                await self._ack(entry_id)
        self._entries.clear()
