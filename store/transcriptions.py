"""The transcription queue in the store: jobs wait here, so none is lost to a restart.

A server claims pending jobs in the order they came (`claim`), marks each done or failed
(with its reason, and a time after which a retryable one is pending again), and on
start gives back to the queue what it left running when it stopped (`recover`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from store.ids import new_id
from store.tables import transcription_jobs as jobs

KINDS = ("voice", "recording")
# someone waits to read a voice message; a lesson's captions can wait a few seconds more
VOICE_FIRST = case((jobs.c.kind == "voice", 0), else_=1)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str  # voice (a message's transcript) or recording (its captions)
    target_id: str
    path: str
    status: str  # pending, running, done, failed
    attempts: int  # started so far
    reason: str | None
    created_at: datetime


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _job(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        kind=m["kind"],
        target_id=m["target_id"],
        path=m["path"],
        status=m["status"],
        attempts=int(m["attempts"]),
        reason=m["reason"],
        created_at=_aware(m["created_at"]),
    )


class TranscriptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, kind: str, target_id: str, path: str, now: datetime) -> Job:
        assert kind in KINDS
        job_id = new_id()
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(jobs).values(
                    id=job_id,
                    kind=kind,
                    target_id=target_id,
                    path=path,
                    status="pending",
                    attempts=0,
                    reason=None,
                    created_at=now,
                    updated_at=now,
                    not_before=now,
                )
            )
        found = await self.get(job_id)
        assert found is not None
        return found

    async def get(self, job_id: str) -> Job | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def claim(self, limit: int, now: datetime) -> list[Job]:
        """Up to `limit` pending jobs that are due, voice messages first, then oldest
        first, now running. Each is
        claimed by a conditional update, so two claimers never take the same job; one
        that loses a job to another looks further down the queue (PostgreSQL skips rows
        another claimer holds)."""
        claimed: list[str] = []
        async with self._engine.begin() as connection:
            for _ in range(3):
                query = (
                    select(jobs.c.id)
                    .where(
                        (jobs.c.status == "pending")
                        & (jobs.c.not_before <= now)
                        & jobs.c.id.not_in(claimed)
                    )
                    .order_by(VOICE_FIRST, jobs.c.created_at, jobs.c.id)
                    .limit(limit - len(claimed))
                    .with_for_update(skip_locked=True)
                )
                found = [row[0] for row in (await connection.execute(query)).all()]
                lost = False
                for job_id in found:
                    taken = await connection.execute(
                        update(jobs)
                        .where((jobs.c.id == job_id) & (jobs.c.status == "pending"))
                        .values(status="running", attempts=jobs.c.attempts + 1, updated_at=now)
                    )
                    if taken.rowcount:
                        claimed.append(job_id)
                    else:
                        lost = True
                if not lost or len(claimed) >= limit:
                    break
            if not claimed:
                return []
            rows = (await connection.execute(select(jobs).where(jobs.c.id.in_(claimed)))).all()
        by_id = {job.id: job for job in map(_job, rows)}
        return [by_id[job_id] for job_id in claimed]

    async def start(self, job_id: str, now: datetime, *, taken_over: bool = False) -> Job | None:
        """Mark a pending job taken from a cluster's queue as running (one more
        attempt); None if it is running, finished or gone. One `taken_over` from a node
        that died may be running (there) already: it is started again."""
        statuses = ("pending", "running") if taken_over else ("pending",)
        async with self._engine.begin() as connection:
            taken = await connection.execute(
                update(jobs)
                .where((jobs.c.id == job_id) & jobs.c.status.in_(statuses))
                .values(status="running", attempts=jobs.c.attempts + 1, updated_at=now)
            )
            if not taken.rowcount:
                return None
            row = (await connection.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def touch(self, job_ids: list[str], now: datetime) -> None:
        """The node running these jobs is alive: say so (`abandoned` reads it)."""
        if not job_ids:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                update(jobs)
                .where(jobs.c.id.in_(job_ids) & (jobs.c.status == "running"))
                .values(updated_at=now)
            )

    async def abandoned(self, before: datetime) -> list[str]:
        """Running jobs nobody touched since `before` (their node died), oldest first."""
        query = (
            select(jobs.c.id)
            .where((jobs.c.status == "running") & (jobs.c.updated_at < before))
            .order_by(jobs.c.updated_at)
        )
        async with self._engine.connect() as connection:
            return [str(row[0]) for row in (await connection.execute(query)).all()]

    async def requeue_abandoned(
        self, job_ids: list[str], before: datetime, now: datetime, reason: str
    ) -> list[str]:
        """Make these jobs pending again if they are still running untouched since
        `before` (checked in the same statement: a job finished meanwhile stays
        finished); the ids made pending."""
        if not job_ids:
            return []
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                update(jobs)
                .where(
                    jobs.c.id.in_(job_ids)
                    & (jobs.c.status == "running")
                    & (jobs.c.updated_at < before)
                )
                .values(status="pending", reason=reason, not_before=now, updated_at=now)
                .returning(jobs.c.id)
            )
            return [str(row[0]) for row in rows.all()]

    async def pending_ids(self) -> list[str]:
        """Every pending job, oldest first."""
        query = select(jobs.c.id).where(jobs.c.status == "pending").order_by(jobs.c.created_at)
        async with self._engine.connect() as connection:
            return [str(row[0]) for row in (await connection.execute(query)).all()]

    async def done(self, job_id: str, now: datetime) -> None:
        await self._set(job_id, now, status="done", reason=None)

    async def failed(self, job_id: str, reason: str, now: datetime) -> None:
        await self._set(job_id, now, status="failed", reason=reason)

    async def retry(self, job_id: str, reason: str, now: datetime, at: datetime) -> None:
        await self._set(job_id, now, status="pending", reason=reason, not_before=at)

    async def _set(self, job_id: str, now: datetime, **values: Any) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(jobs).where(jobs.c.id == job_id).values(updated_at=now, **values)
            )

    async def recover(self, now: datetime) -> int:
        """Jobs left running by a server that stopped are pending again; how many."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(jobs)
                .where(jobs.c.status == "running")
                .values(status="pending", updated_at=now, not_before=now)
            )
        return int(result.rowcount or 0)

    async def counts(self) -> dict[str, int]:
        """Jobs by status."""
        query = select(jobs.c.status, func.count()).group_by(jobs.c.status)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {str(status): int(count) for status, count in rows}

    async def next_due(self) -> datetime | None:
        """When the earliest pending job is due."""
        query = select(func.min(jobs.c.not_before)).where(jobs.c.status == "pending")
        async with self._engine.connect() as connection:
            value = (await connection.execute(query)).scalar()
        return None if value is None else _aware(value)
