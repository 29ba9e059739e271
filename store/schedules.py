"""Where scheduled lessons, their invitees and the reminders sent are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from signalling.schedule import Schedule

from .tables import call_invitees, reminders_sent, scheduled_calls


@dataclass(frozen=True)
class StoredSchedule:
    schedule: Schedule
    call_id: str
    created_at: datetime
    created_by: str | None = None  # the user who scheduled it
    chat_id: str | None = None  # scheduled on behalf of this chat


@dataclass(frozen=True)
class Invitee:
    email: str
    time_zone: str


class ScheduleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self,
        schedule: Schedule,
        *,
        call_id: str,
        now: datetime,
        created_by: str | None = None,
        chat_id: str | None = None,
    ) -> StoredSchedule:
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
            "created_by": created_by,
            "chat_id": chat_id,
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(scheduled_calls).values(**values))
        return StoredSchedule(
            schedule=schedule,
            call_id=call_id,
            created_at=now,
            created_by=created_by,
            chat_id=chat_id,
        )

    async def invite(self, schedule_id: str, invitees: list[Invitee], now: datetime) -> None:
        """Remember who was invited (again: their time zone is updated)."""
        async with self._engine.begin() as connection:
            for person in invitees:
                key = (call_invitees.c.schedule_id == schedule_id) & (
                    call_invitees.c.email == person.email
                )
                done = await connection.execute(
                    update(call_invitees).where(key).values(time_zone=person.time_zone)
                )
                if done.rowcount == 0:
                    await connection.execute(
                        insert(call_invitees).values(
                            schedule_id=schedule_id,
                            email=person.email,
                            time_zone=person.time_zone,
                            invited_at=now,
                        )
                    )

    async def invitees(self, schedule_id: str) -> list[Invitee]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(call_invitees.c.email, call_invitees.c.time_zone)
                    .where(call_invitees.c.schedule_id == schedule_id)
                    .order_by(call_invitees.c.invited_at, call_invitees.c.email)
                )
            ).all()
        return [Invitee(email=r.email, time_zone=r.time_zone) for r in rows]

    async def claim_reminder(
        self, schedule_id: str, remind_at: datetime, now: datetime, recipients: int
    ) -> bool:
        """Mark a reminder instant as sent; False when it already was (by this node
        before a restart, or by another)."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(reminders_sent).values(
                        schedule_id=schedule_id,
                        remind_at=remind_at,
                        sent_at=now,
                        recipients=recipients,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def release_reminder(self, schedule_id: str, remind_at: datetime) -> None:
        """Sending failed: let a later pass try again."""
        async with self._engine.begin() as connection:
            await connection.execute(
                reminders_sent.delete().where(
                    (reminders_sent.c.schedule_id == schedule_id)
                    & (reminders_sent.c.remind_at == remind_at)
                )
            )

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
        created_by=m["created_by"],
        chat_id=m["chat_id"],
    )
