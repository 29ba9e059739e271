"""The transcription queue in the store, on SQLite and PostgreSQL: jobs claimed in
order, never twice, retried after their back-off, and found again after a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from store.transcriptions import TranscriptionStore

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


async def test_jobs_are_claimed_in_order_and_only_once(engine: AsyncEngine) -> None:
    store = TranscriptionStore(engine)
    added = [
        await store.add("voice", f"m{n}", f"/data/files/f{n}", T0 + timedelta(seconds=n))
        for n in range(5)
    ]
    assert added[0].status == "pending" and added[0].attempts == 0
    # two claimers at once share the jobs out between them
    first, second = await asyncio.gather(
        store.claim(2, T0 + timedelta(minutes=1)), store.claim(2, T0 + timedelta(minutes=1))
    )
    taken = [job.id for job in first + second]
    assert len(taken) == len(set(taken)) == 4
    assert {job.id for job in first + second} == {job.id for job in added[:4]}
    assert all(job.status == "running" and job.attempts == 1 for job in first + second)
    (last,) = await store.claim(10, T0 + timedelta(minutes=1))
    assert last.id == added[4].id and last.target_id == "m4"
    assert await store.claim(10, T0 + timedelta(minutes=1)) == []
    assert await store.counts() == {"running": 5}


async def test_retries_wait_their_turn_and_outcomes_are_kept(engine: AsyncEngine) -> None:
    store = TranscriptionStore(engine)
    job = await store.add("recording", "r1", "/data/recordings/r1.mp4", T0)
    other = await store.add("voice", "m1", "/data/files/f1", T0)
    claimed = await store.claim(2, T0)
    assert [j.id for j in claimed] == [job.id, other.id] or [j.id for j in claimed] == [
        other.id,
        job.id,
    ]
    await store.retry(job.id, "the transcriber process stopped", T0, T0 + timedelta(seconds=30))
    await store.failed(other.id, "the file has no audio", T0)
    assert await store.claim(5, T0 + timedelta(seconds=29)) == []  # not yet
    assert await store.next_due() == T0 + timedelta(seconds=30)
    (again,) = await store.claim(5, T0 + timedelta(seconds=30))
    assert again.id == job.id and again.attempts == 2
    assert again.reason == "the transcriber process stopped"
    await store.done(job.id, T0 + timedelta(minutes=1))
    assert await store.counts() == {"done": 1, "failed": 1}
    assert (await store.get(other.id)).reason == "the file has no audio"  # type: ignore[union-attr]
    assert await store.next_due() is None


async def test_jobs_left_running_are_pending_again_after_a_restart(engine: AsyncEngine) -> None:
    store = TranscriptionStore(engine)
    for n in range(3):
        await store.add("voice", f"m{n}", f"/f{n}", T0)
    await store.claim(2, T0)  # the server stops with these two running
    assert await store.recover(T0 + timedelta(hours=1)) == 2
    assert await store.counts() == {"pending": 3}
    again = await store.claim(3, T0 + timedelta(hours=1))
    assert sorted(j.target_id for j in again) == ["m0", "m1", "m2"]
    assert sorted(j.attempts for j in again) == [1, 2, 2]


async def test_voice_messages_go_before_recordings(engine: AsyncEngine) -> None:
    store = TranscriptionStore(engine)
    await store.add("recording", "lesson", "/r.mp4", T0)
    await store.add("voice", "late", "/v.ogg", T0 + timedelta(seconds=5))
    first, second = (
        await store.claim(1, T0 + timedelta(minutes=1)),
        await store.claim(1, T0 + timedelta(minutes=1)),
    )
    assert [j.target_id for j in first + second] == ["late", "lesson"]


async def test_running_jobs_nobody_touched_for_a_while_are_found(engine: AsyncEngine) -> None:
    store = TranscriptionStore(engine)
    for n in range(3):
        await store.add("voice", f"m{n}", f"/f{n}", T0)
    running = await store.claim(3, T0)
    ids = [job.id for job in running]
    await store.done(ids[2], T0 + timedelta(seconds=5))
    await store.touch([ids[1], ids[2]], T0 + timedelta(seconds=40))  # a live node's
    assert await store.abandoned(T0 + timedelta(seconds=30)) == [ids[0]]
    assert await store.abandoned(T0 + timedelta(seconds=50)) == [ids[0], ids[1]]
    assert (await store.get(ids[2])).status == "done"  # type: ignore[union-attr]
    # made pending again only if still running untouched: not the done one, nor the
    # one touched since the sweep looked
    await store.touch([ids[1]], T0 + timedelta(seconds=60))
    later = T0 + timedelta(seconds=50)
    again = await store.requeue_abandoned(ids, later, later, "its node was lost")
    assert again == [ids[0]]
    first = await store.get(ids[0])
    assert first is not None and (first.status, first.reason) == ("pending", "its node was lost")
    assert [j.status for j in [await store.get(i) for i in ids[1:]]] == ["running", "done"]  # type: ignore[union-attr]
