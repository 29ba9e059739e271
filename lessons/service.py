"""Scheduled lessons: who sees one, who may change it, and what follows from scheduling,
changing or cancelling one (its call's access, its reminders, its chat's notice).

A lesson is seen by whoever scheduled it and by the members of its chat (one indexed
query for a user's lessons); only its organiser changes or deletes it.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Any

from calls.service import Calls
from chat.service import ChatService, NotFound, Seat
from lessons.reminders import Reminders
from model.access import CallAccess, new_token, token_hash
from model.schedule import Evaluation, Schedule, upcoming
from store.accounts import User
from store.chats import MessageDraft
from store.schedules import ScheduleStore, StoredSchedule


class NoSuchChat(LookupError):
    """The chat to schedule for does not exist, or the organiser cannot see it."""


class MayNotPost(PermissionError):
    """The organiser is in the chat but may not post there."""


class NotOrganiser(PermissionError):
    """Only the lesson's organiser may change or delete it."""


class Lessons:
    def __init__(
        self, schedules: ScheduleStore, chats: ChatService, calls: Calls, reminders: Reminders
    ) -> None:
        self.schedules = schedules
        self.chats = chats
        self.calls = calls
        self.reminders = reminders

    async def visible(self, user: User, stored: StoredSchedule) -> bool:
        if stored.created_by == user.id:
            return True
        if stored.chat_id is None:
            return False
        try:
            await self.chats.seat(user, stored.chat_id)
        except NotFound:
            return False
        return True

    async def visible_to(self, user: User) -> list[StoredSchedule]:
        """Every lesson the user sees, oldest first."""
        return await self.schedules.visible_to(user.id)

    async def find(self, user: User, schedule_id: str) -> StoredSchedule | None:
        """The lesson, if the user may see it (else None: as if there were none)."""
        stored = await self.schedules.get(schedule_id)
        if stored is None or not await self.visible(user, stored):
            return None
        return stored

    async def own(self, user: User, schedule_id: str) -> StoredSchedule | None:
        """The lesson, if the user organised it; None if they cannot see it, NotOrganiser
        if they can (a member of its chat)."""
        stored = await self.find(user, schedule_id)
        if stored is not None and stored.created_by != user.id:
            raise NotOrganiser
        return stored

    async def schedule(
        self, user: User, schedule: Schedule, chat_id: str | None, now: datetime
    ) -> tuple[StoredSchedule, str, Seat | None]:
        """A new lesson (for a chat the organiser may post in, when `chat_id`): its call
        gets a join link, and a host key for the organiser, which comes back with it."""
        seat = None
        if chat_id is not None:  # on behalf of a chat: its members see it and are reminded
            try:
                seat = await self.chats.seat(user, chat_id)
            except NotFound:
                raise NoSuchChat from None
            if not seat.can_post:
                raise MayNotPost
        call_id = "lesson-" + secrets.token_urlsafe(9).replace("_", "-")
        stored = await self.schedules.add(
            schedule,
            call_id=call_id,
            now=now,
            created_by=user.id,
            chat_id=None if seat is None else seat.chat.id,
        )
        host_key = new_token()
        self.calls.add_access(
            call_id,
            CallAccess(
                title=schedule.title,
                waiting_room=schedule.waiting_room,
                link=new_token(),
                scheduled=True,
                host_tokens={token_hash(host_key): "host"},
            ),
        )
        await self.calls.flush()
        self.reminders.wake()
        return stored, host_key, seat

    async def change(self, stored: StoredSchedule, schedule: Schedule) -> bool:
        """The lesson's new schedule (False: it was deleted meanwhile). Its call takes the
        new title, and the waiting room too unless the call is live (then its hosts set
        it); its reminders are found again from the new schedule."""
        if not await self.schedules.update(schedule):
            return False
        access = self.calls.access.get(stored.call_id)
        if access is not None:
            access.title = schedule.title
            if stored.call_id not in self.calls.rooms:
                access.waiting_room = schedule.waiting_room
            self.calls.changed(stored.call_id)
            await self.calls.flush()
        self.reminders.wake()
        return True

    async def cancel(self, stored: StoredSchedule) -> bool:
        """The lesson, its invitees and its reminders go; its join link stops working."""
        if not await self.schedules.delete(stored.schedule.uid):
            return False
        await self.calls.cancel(stored.call_id)
        self.reminders.wake()
        return True

    async def announce(self, seat: Seat, described: dict[str, Any]) -> None:
        """A new lesson's notice in its chat, from its organiser."""
        await self.chats.post(seat, announcement("call_scheduled", described, seat.profile.id))

    async def tell_chat(
        self, user: User, stored: StoredSchedule, event: str, described: dict[str, Any]
    ) -> None:
        """A lesson scheduled for a chat: its members see the change, from the organiser
        while they may post there (as the lesson was announced), else from parta."""
        if stored.chat_id is None:
            return
        try:
            seat = await self.chats.seat(user, stored.chat_id)
        except NotFound:
            seat = None
        if seat is not None and seat.can_post:
            await self.chats.post(seat, announcement(event, described, seat.profile.id))
        else:
            await self.chats.notice(stored.chat_id, announcement(event, described, None))


def announcement(event: str, described: dict[str, Any], sender: str | None) -> MessageDraft:
    """A lesson's notice in its chat: scheduled, changed, cancelled, or a reminder (see
    reminders.py). `described` is the lesson as the API shows it."""
    meta = {
        "event": event,
        "schedule_id": described["id"],
        "title": described["title"],
        "link": described["link"],
        "start": described["next"]["start"] if described["next"] else None,
        "time_zone": described["time_zone"],
    }
    return MessageDraft(kind="system", body="", sender_id=sender, meta=meta)


async def evaluations_of(schedules: list[Schedule], now: datetime) -> list[Evaluation]:
    """Each lesson's next occurrence, one lesson at a time with other requests let in
    between. One takes a few steps (well under 10 ms even for the dearest rule a lesson
    may have), so no piece holds the event loop for long; a thread would not help, as
    it holds the GIL against the loop: benchmarks/schedules.py measured /healthz's p99
    at about 60 ms while threads evaluated, 25 ms like this."""
    found = []
    for schedule in schedules:
        found.append(upcoming(schedule, now))
        await asyncio.sleep(0)
    return found
