"""Reminders of scheduled lessons, e-mailed to the people invited to them.

Derived from the stored schedules, not from in-memory timers: each pass computes the
reminder instants that fell due since `grace` ago, claims each one in the store (so a
restart, or a second node, never sends one twice) and sends it to every invitee with
the lesson's time in the invitee's own time zone. A reminder whose mail could not be
sent is released and tried again on the next pass, for as long as it is within grace;
one that fell due while the server was down longer than that is not sent late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from prometheus_client import Counter

from lessons.invites import SmtpSettings, build_reminder, send
from model.access import join_path
from model.schedule import Reminder, reminders_between, when_in
from store.schedules import ScheduleStore, StoredSchedule

logger = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
LONGEST_SLEEP = 60.0  # also picks up lessons scheduled meanwhile (wake() is faster)


@dataclass(frozen=True)
class SentReminder:
    schedule_id: str
    at: datetime
    recipients: tuple[str, ...]


def starts_in(before: timedelta) -> str:
    minutes = int(before.total_seconds() // 60)
    if minutes <= 0:
        return "starts now"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"starts in {hours} hour{'s' if hours > 1 else ''}"
    return f"starts in {minutes} minute{'s' if minutes > 1 else ''}"


async def _due(
    lessons: list[StoredSchedule], after: datetime, before: datetime
) -> list[tuple[StoredSchedule, list[Reminder]]]:
    """The lessons with reminders in [after, before), and those reminders. Each lesson
    takes a few steps (one that cannot be evaluated, none); other tasks run after each,
    so that many lessons do not hold up the event loop (see lessons.service.evaluations_of)."""
    found = []
    for stored in lessons:
        due = reminders_between(stored.schedule, after, before)
        if due:
            found.append((stored, due))
        await asyncio.sleep(0)
    return found


class Reminders:
    def __init__(
        self,
        schedules: ScheduleStore,
        smtp: SmtpSettings | None,
        base_url: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        deliver: Callable[[EmailMessage, SmtpSettings], Awaitable[None]] = send,
        grace: timedelta = GRACE,
        counter: Counter | None = None,
        link_of: Callable[[str], str | None] = lambda call_id: None,
        in_chat: Callable[[StoredSchedule, Reminder], Awaitable[None]] | None = None,
    ) -> None:
        """`link_of`: a call's invite-link token (None: turned off). `in_chat`: tells a
        lesson's chat (scheduled on its behalf) that it starts soon."""
        self.schedules = schedules
        self.smtp = smtp
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.deliver = deliver
        self.grace = grace
        self.counter = counter  # by outcome: sent, failed
        self.link_of = link_of
        self.in_chat = in_chat
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A lesson was scheduled or someone invited: look again now."""
        self._wake.set()

    async def run(self) -> None:
        """Send reminders as they fall due, until cancelled."""
        if self.smtp is None:
            logger.info("no --smtp: lesson reminders are not e-mailed")
            if self.in_chat is None:
                return
        while True:
            self._wake.clear()
            try:
                await self.run_once()
                pause = await self._until_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reminders pass failed; trying again shortly")
                pause = 10.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def _until_next(self) -> float:
        now = self.clock()
        horizon = now + timedelta(seconds=LONGEST_SLEEP)
        soonest = horizon
        for _, due in await _due(await self.schedules.all(), now, horizon):
            soonest = min(soonest, due[0].at)
        return max(0.05, (soonest - now).total_seconds() + 0.05)

    async def run_once(self) -> list[SentReminder]:
        """One pass: every reminder due in (now - grace, now] not yet sent goes out, by
        e-mail to the invitees (with --smtp) and into the lesson's chat."""
        now = self.clock()
        done: list[SentReminder] = []
        lessons = await self.schedules.all()
        for stored, due in await _due(lessons, now - self.grace, now + timedelta(0, 0, 1)):
            invitees = (
                [] if self.smtp is None else await self.schedules.invitees(stored.schedule.uid)
            )
            chat = stored.chat_id is not None and self.in_chat is not None
            if not invitees and not chat:
                continue
            for reminder in due:
                sent = await self._send(
                    stored, reminder, [(i.email, i.time_zone) for i in invitees], now
                )
                if sent is not None:
                    done.append(sent)
        return done

    async def _send(
        self,
        stored: StoredSchedule,
        reminder: Reminder,
        invitees: list[tuple[str, str]],
        now: datetime,
    ) -> SentReminder | None:
        uid = stored.schedule.uid
        if not await self.schedules.claim_reminder(uid, reminder.at, now, len(invitees)):
            return None  # sent before (a restart, or another node)
        path = join_path(self.link_of(stored.call_id))
        link = f"{self.base_url}{path}" if path else f"{self.base_url}/"
        if stored.chat_id is not None and self.in_chat is not None:
            try:
                await self.in_chat(stored, reminder)
            except Exception:
                logger.exception("reminder of %s into its chat", uid)
        try:
            for email, zone in invitees:
                assert self.smtp is not None
                message = build_reminder(
                    title=stored.schedule.title,
                    when=when_in(stored.schedule, reminder.occurrence, zone),
                    starts_in=starts_in(reminder.before),
                    link=link,
                    sender=self.smtp.sender,
                    recipient=email,
                )
                await self.deliver(message, self.smtp)
        except (OSError, aiosmtplib.SMTPException, TimeoutError) as exc:
            if self.counter is not None:
                self.counter.labels("failed").inc(len(invitees))
            logger.warning("reminder of %s at %s not sent: %s", uid, reminder.at, exc)
            await self.schedules.release_reminder(uid, reminder.at)
            return None
        if self.counter is not None:
            self.counter.labels("sent").inc(len(invitees))
        return SentReminder(uid, reminder.at, tuple(email for email, _ in invitees))
