"""Where the transcription loop finds its jobs: `StoreJobs` claims pending rows in the
store (a single node; at start, what this server left running is pending again). A
cluster's queue, a Redis stream, is cluster/jobs.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

from store.transcriptions import Job, TranscriptionStore

logger = logging.getLogger(__name__)




class JobEvents(Protocol):
    def job(self, event: str, count: int = 1) -> None: ...


class Jobs(Protocol):
    """What the transcription loop asks of its queue."""

    distributed: bool

    async def start(self) -> int: ...
    async def queued(self, job: Job) -> None: ...
    async def take(self, limit: int, wait: float) -> list[Job]: ...
    async def done(self, job: Job) -> None: ...
    async def failed(self, job: Job, reason: str) -> None: ...
    async def retry(self, job: Job, reason: str, at: datetime) -> None: ...
    async def pending(self) -> int: ...
    async def stop(self) -> None: ...


class StoreJobs:
    """A single node: the store is the queue."""

    distributed = False

    def __init__(self, store: TranscriptionStore) -> None:
        self.store = store

    async def start(self) -> int:
        """What this server left running is pending again; how many."""
        return await self.store.recover(_now())

    async def queued(self, job: Job) -> None:
        pass

    async def take(self, limit: int, wait: float) -> list[Job]:
        return await self.store.claim(limit, _now())

    async def done(self, job: Job) -> None:
        await self.store.done(job.id, _now())

    async def failed(self, job: Job, reason: str) -> None:
        await self.store.failed(job.id, reason, _now())

    async def retry(self, job: Job, reason: str, at: datetime) -> None:
        await self.store.retry(job.id, reason, _now(), at)

    async def pending(self) -> int:
        return (await self.store.counts()).get("running", 0)

    async def stop(self) -> None:
        pass






def _now() -> datetime:
    return datetime.now(UTC)
