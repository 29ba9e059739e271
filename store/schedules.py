"""Where scheduled lessons, their invitees and the reminders sent are kept.

A row that cannot be read back (written by hand, or by a version that kept something
else) is skipped, logged and reported once; one that reads but cannot be evaluated
(it starts in year 9999, its rule is one lessons no longer accept) comes back with its
`problem`, so that its organiser sees it and can change or delete it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from model.schedule import Schedule, problem_of
from store.tables import (
    call_invitees,
    chat_members,
    chats,
    profiles,
    reminders_sent,
    scheduled_calls,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredSchedule:
    schedule: Schedule
    call_id: str
    created_at: datetime
    created_by: str | None = None  # the user who scheduled it
    chat_id: str | None = None  # scheduled on behalf of this chat
    problem: str | None = None  # why it cannot be evaluated (see problem_of)


@dataclass(frozen=True)
class Invitee:
    email: str
    time_zone: str


class ScheduleStore:
    def __init__(
        self, engine: AsyncEngine, *, on_bad_row: Callable[[str], None] | None = None
    ) -> None:
        """`on_bad_row(kind)` is told once per row and process of each row that is
        skipped ("unreadable") or cannot be evaluated ("unusable")."""
        self._engine = engine
        self._on_bad_row = on_bad_row
        self._reported: set[str] = set()

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
            **_columns(schedule),
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

    async def update(self, schedule: Schedule) -> bool:
        """Put an edited schedule in place of the one with its uid; False when there is
        none (deleted meanwhile). The reminders already sent stay claimed: an instant
        the edit kept is not reminded of twice."""
        async with self._engine.begin() as connection:
            done = await connection.execute(
                update(scheduled_calls)
                .where(scheduled_calls.c.id == schedule.uid)
                .values(**_columns(schedule))
            )
        return bool(done.rowcount)

    async def delete(self, schedule_id: str) -> bool:
        """Forget a lesson with its invitees and its reminders, in one transaction;
        False when there was none."""
        async with self._engine.begin() as connection:
            for table in (reminders_sent, call_invitees):
                await connection.execute(delete(table).where(table.c.schedule_id == schedule_id))
            done = await connection.execute(
                delete(scheduled_calls).where(scheduled_calls.c.id == schedule_id)
            )
        return bool(done.rowcount)

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
        return None if row is None else self._read(row)

    async def by_call(self, call_id: str) -> StoredSchedule | None:
        """The lesson whose call this is, if it is a lesson's."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(scheduled_calls).where(scheduled_calls.c.call_id == call_id)
                )
            ).first()
        return None if row is None else self._read(row)

    async def of_chats(self, chat_ids: list[str]) -> list[StoredSchedule]:
        """The lessons scheduled on behalf of these chats, oldest first."""
        query = (
            select(scheduled_calls)
            .where(scheduled_calls.c.chat_id.in_(chat_ids))
            .order_by(scheduled_calls.c.created_at)
        )
        return await self._read_all(query)

    async def visible_to(self, user_id: str) -> list[StoredSchedule]:
        """The lessons a user sees, oldest first: those they organised, and those of the
        chats their profile in the chat's school is a member of (a user has at most one
        profile in a school). One query, by the indexes on the organiser and the chat."""
        member_of = (
            select(chat_members.c.chat_id)
            .join(profiles, profiles.c.id == chat_members.c.profile_id)
            .join(chats, chats.c.id == chat_members.c.chat_id)
            .where((profiles.c.user_id == user_id) & (profiles.c.org_id == chats.c.org_id))
        )
        return await self._read_all(
            select(scheduled_calls)
            .where(
                (scheduled_calls.c.created_by == user_id)
                | scheduled_calls.c.chat_id.in_(member_of)
            )
            .order_by(scheduled_calls.c.created_at)
        )

    async def all(self) -> list[StoredSchedule]:
        """Every lesson that can be read, oldest first."""
        return await self._read_all(select(scheduled_calls).order_by(scheduled_calls.c.created_at))

    async def _read_all(self, query: Select[Any]) -> list[StoredSchedule]:
        """The lessons a query finds that can be read."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        found = (self._read(row) for row in rows)
        return [stored for stored in found if stored is not None]

    def _read(self, row: Row[tuple[object, ...]]) -> StoredSchedule | None:
        try:
            stored = _from_row(row)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            self._report(str(row._mapping["id"]), "unreadable", f"{type(exc).__name__}: {exc}")
            return None
        if stored.problem is not None:
            self._report(stored.schedule.uid, "unusable", stored.problem)
        return stored

    def _report(self, schedule_id: str, kind: str, why: str) -> None:
        if schedule_id in self._reported:
            return
        self._reported.add(schedule_id)
        logger.warning("scheduled lesson %s is %s: %s", schedule_id, kind, why[:200])
        if self._on_bad_row is not None:
            self._on_bad_row(kind)


def _columns(schedule: Schedule) -> dict[str, Any]:
    return {
        "title": schedule.title,
        "start_local": schedule.start.isoformat(),
        "time_zone": schedule.time_zone,
        "duration_seconds": (
            None if schedule.duration is None else int(schedule.duration.total_seconds())
        ),
        "rrule": schedule.rrule,
        "reminders_seconds": [int(r.total_seconds()) for r in schedule.reminders],
        "waiting_room": schedule.waiting_room,
    }


def _from_row(row: Row[tuple[object, ...]]) -> StoredSchedule:
    """The row as a StoredSchedule; ValueError, TypeError or KeyError when it is not one."""
    m = row._mapping
    duration = m["duration_seconds"]
    reminders = m["reminders_seconds"]
    if not isinstance(reminders, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in reminders
    ):
        raise TypeError("reminders_seconds is not a list of whole seconds")
    if not isinstance(m["start_local"], str):
        raise TypeError("start_local is not text")
    schedule = Schedule(
        title=m["title"],
        start=datetime.fromisoformat(m["start_local"]),
        time_zone=m["time_zone"],
        duration=None if duration is None else timedelta(seconds=duration),
        rrule=m["rrule"],
        reminders=tuple(timedelta(seconds=s) for s in reminders),
        waiting_room=bool(m["waiting_room"]),
        uid=m["id"],
    )
    return StoredSchedule(
        schedule=schedule,
        call_id=m["call_id"],
        created_at=m["created_at"],
        created_by=m["created_by"],
        chat_id=m["chat_id"],
        problem=problem_of(schedule),
    )
