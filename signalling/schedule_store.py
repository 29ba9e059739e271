"""Where scheduled lessons are kept. The only module of signalling/ that runs SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from store.tables import scheduled_calls

from .schedule import Schedule


@dataclass(frozen=True)
class StoredSchedule:
    schedule: Schedule
    call_id: str
    created_at: datetime


class ScheduleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, schedule: Schedule, *, call_id: str, now: datetime) -> StoredSchedule:
        values = {
            "id": schedule.uid,
            "call_id": call_id,
            "title": schedule.title,
            "start_local": schedule.start.isoformat(),
            "time_zone": schedule.time_zone,
            "duration_seconds": (
                None if schedule.duration is None else int(schedule.duration.total_seconds())
            ),
            "rrule": schedule.rrule,
            "reminders_seconds": [int(r.total_seconds()) for r in schedule.reminders],
            "waiting_room": schedule.waiting_room,
            "created_at": now,
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(scheduled_calls).values(**values))
        return StoredSchedule(schedule=schedule, call_id=call_id, created_at=now)

    async def get(self, schedule_id: str) -> StoredSchedule | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(scheduled_calls).where(scheduled_calls.c.id == schedule_id)
                )
            ).first()
        return None if row is None else _from_row(row)

    async def all(self) -> list[StoredSchedule]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(scheduled_calls).order_by(scheduled_calls.c.created_at)
                )
            ).all()
        return [_from_row(row) for row in rows]


def _from_row(row: Row[tuple[object, ...]]) -> StoredSchedule:
    m = row._mapping
    duration = m["duration_seconds"]
    return StoredSchedule(
        schedule=Schedule(
            title=m["title"],
            start=datetime.fromisoformat(m["start_local"]),
            time_zone=m["time_zone"],
            duration=None if duration is None else timedelta(seconds=duration),
            rrule=m["rrule"],
            reminders=tuple(timedelta(seconds=s) for s in m["reminders_seconds"]),
            waiting_room=bool(m["waiting_room"]),
            uid=m["id"],
        ),
        call_id=m["call_id"],
        created_at=m["created_at"],
    )
