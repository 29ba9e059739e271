"""The cluster's job queue on a real redis-server: a job goes to one node; a node that
dies with a job has it taken over; a running job is kept; retries come back when due;
a node that stops gives its jobs back; nodes whose wall clocks disagree agree by the
cluster's clock."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from cluster.jobs import StreamJobs
from cluster.nodes import SharedClock
from store.database import default_url, migrate, open_engine
from store.transcriptions import TranscriptionStore
from tests.support.redis import redis_server


class Events:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def job(self, event: str, count: int = 1) -> None:
        self.counts[event] += count


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[TranscriptionStore, Redis]]:
    url = default_url(tmp_path)
    await asyncio.to_thread(migrate, url)
    engine = open_engine(url)
    with redis_server(tmp_path) as redis_url:
        redis = Redis.from_url(redis_url)
        yield TranscriptionStore(engine), redis
        await redis.aclose()
    await engine.dispose()


def now() -> datetime:
    return datetime.now(UTC)


async def test_a_job_goes_to_one_node_and_a_dead_nodes_job_is_taken_over(
    parts: tuple[TranscriptionStore, Redis],
) -> None:
    store, redis = parts
    events = Events()
    a = StreamJobs(store, redis, "a", events, claim_after=0.6)
    c = StreamJobs(store, redis, "c", events, claim_after=0.6)
    await a.start()
    await c.start()
    job = await store.add("voice", "m1", "/x.ogg", now())
    await a.queued(job)
    taken = await a.take(1, 0.1)
    assert [j.id for j in taken] == [job.id] and taken[0].attempts == 1
    assert await c.take(1, 0.1) == []  # one node has it
    assert await a.pending() == 1

    # a keeps touching its job: c does not take it while a lives
    await asyncio.sleep(1.0)
    assert await c.take(1, 0.1) == []

    # a dies (its toucher stops with it): c takes the job over and finishes it
    assert a._toucher is not None
    a._toucher.cancel()
    await asyncio.sleep(0.7)
    again = await c.take(1, 0.1)
    assert [j.id for j in again] == [job.id] and again[0].attempts == 2
    assert events.counts["reclaimed"] == 1
    await c.done(again[0])
    stored = await store.get(job.id)
    assert stored is not None and stored.status == "done"
    assert await c.pending() == 0
    # a comes back and finishes late: nothing runs twice from the queue
    await asyncio.sleep(0.7)
    assert await a.take(1, 0.1) == [] and await c.take(1, 0.1) == []
    await c.stop()


async def test_a_retry_comes_back_when_due_and_a_stopping_node_gives_its_jobs_back(
    parts: tuple[TranscriptionStore, Redis],
) -> None:
    store, redis = parts
    events = Events()
    a = StreamJobs(store, redis, "a", events, claim_after=30)
    c = StreamJobs(store, redis, "c", events, claim_after=30)
    await a.start()
    await c.start()
    job = await store.add("voice", "m1", "/x.ogg", now())
    await a.queued(job)
    [taken] = await a.take(1, 0.1)
    await a.retry(taken, "worker died", now() + timedelta(seconds=0.5))
    assert await c.take(1, 0.1) == []  # not due yet
    await asyncio.sleep(0.6)
    [due] = await c.take(1, 0.1)
    assert due.id == job.id and due.attempts == 2
    assert events.counts["delayed"] == 1

    await c.stop()  # c stops cleanly while running it: a gets it at once
    [back] = await a.take(1, 0.1)
    assert back.id == job.id and back.attempts == 3
    await a.failed(back, "unreadable")
    stored = await store.get(job.id)
    assert stored is not None and (stored.status, stored.reason) == ("failed", "unreadable")
    assert await a.pending() == 0
    await a.stop()


async def test_a_queue_lost_with_redis_is_made_again_from_the_store(
    parts: tuple[TranscriptionStore, Redis],
) -> None:
    store, redis = parts
    jobs = StreamJobs(store, redis, "a", Events(), claim_after=30)
    await jobs.start()
    job = await store.add("voice", "m1", "/x.ogg", now())
    await jobs.queued(job)
    await redis.flushall()  # as a restarted Redis that keeps nothing
    assert await jobs.take(1, 0.1) == []  # the group is made again, the job queued again
    [again] = await jobs.take(1, 0.1)
    assert again.id == job.id
    await jobs.done(again)
    await jobs.stop()


async def test_a_job_redis_missed_is_swept_in_and_a_queued_twice_job_runs_once(
    parts: tuple[TranscriptionStore, Redis],
) -> None:
    store, redis = parts
    a = StreamJobs(store, redis, "a", Events(), claim_after=30)
    c = StreamJobs(store, redis, "c", Events(), claim_after=30)
    await a.start()
    await c.start()
    missed = await store.add("voice", "m1", "/x.ogg", now())  # Redis was away: not queued
    twice = await store.add("voice", "m2", "/y.ogg", now())
    await a.queued(twice)
    await a.queued(twice)
    assert await a.sweep() == 1  # the missed one; the other is queued already
    assert await c.sweep() == 0  # one node sweeps at a time
    taken = await a.take(3, 0.1) + await c.take(3, 0.1)
    assert sorted(j.id for j in taken) == sorted([missed.id, twice.id])
    for job in taken:
        await (a if job.id in a._entries else c).done(job)
    assert await a.pending() == 0
    await a.stop()
    await c.stop()


async def test_a_job_running_on_a_node_that_died_with_redis_s_memory_runs_again(
    parts: tuple[TranscriptionStore, Redis],
) -> None:
    """Redis restarts empty while a's job runs, and a dies: nothing in Redis says the job
    was ever there, but its row, which a stopped touching, is found by the sweep; the
    job c runs meanwhile, which c keeps touching, is left alone."""
    store, redis = parts
    a = StreamJobs(store, redis, "a", Events(), claim_after=0.6)
    c = StreamJobs(store, redis, "c", Events(), claim_after=0.6)
    await a.start()
    await c.start()
    lost = await store.add("voice", "m1", "/x.ogg", now())
    kept = await store.add("voice", "m2", "/y.ogg", now())
    await a.queued(lost)
    await a.queued(kept)
    [on_a] = await a.take(1, 0.1)
    [on_c] = await c.take(1, 0.1)
    assert (on_a.id, on_c.id) == (lost.id, kept.id)
    assert a._toucher is not None
    a._toucher.cancel()  # a dies
    await redis.flushall()  # and Redis restarts with nothing
    await asyncio.sleep(1.0)  # longer than claim_after: c touched its job, a did not
    assert await c.take(1, 0.1) == []  # the queue made again, swept
    [again] = await c.take(1, 0.1)
    assert again.id == lost.id and again.attempts == 2
    stored = await store.get(kept.id)
    assert stored is not None and stored.status == "running" and stored.attempts == 1
    await c.done(again)
    await c.done(on_c)
    assert await store.counts() == {"done": 2}
    await c.stop()


async def synced(redis: Redis, skew: float) -> SharedClock:
    """The cluster's clock of a node whose wall clock is `skew` seconds off, set as its
    heartbeat sets it."""
    clock = SharedClock(wall=lambda: time.time() + skew)
    sent = clock.wall()
    clock.heard(await redis.time(), sent, clock.wall())
    return clock


async def test_nodes_whose_wall_clocks_disagree_agree_on_jobs(
    parts: tuple[TranscriptionStore, Redis],
) -> None:
    """a's wall clock is 5 minutes slow. The job it runs and renews is not taken for
    abandoned by c's sweep; a retry a asks for in 1 s comes back in 1 s, not at once."""
    store, redis = parts
    slow = await synced(redis, -300.0)
    a = StreamJobs(store, redis, "a", Events(), claim_after=0.6, clock=slow.now)
    c = StreamJobs(store, redis, "c", Events(), claim_after=0.6, clock=(await synced(redis, 0)).now)
    await a.start()
    await c.start()
    running = await store.add("voice", "m1", "/x.ogg", now())
    await a.queued(running)
    [on_a] = await a.take(1, 0.1)
    await redis.flushall()  # only the rows' times tell whether a is alive
    await asyncio.sleep(1.0)  # a renewed its job meanwhile, by the cluster's clock
    assert await c.sweep() == 0
    assert await c.take(1, 0.1) == []

    await a.retry(on_a, "try again", datetime.now(UTC) + timedelta(seconds=1))
    assert await c.take(1, 0.1) == []  # not due yet, whoever asks
    await asyncio.sleep(1.1)
    [again] = await c.take(1, 0.1)
    assert again.id == running.id
    await c.done(again)
    await a.stop()
    await c.stop()
