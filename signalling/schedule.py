"""Scheduled lessons: recurrence, reminders and calendar files. Pure: `now` is passed in.

A lesson is scheduled in local wall time of an IANA time zone ("Mondays 09:00 in
Berlin"): every occurrence keeps that wall time across daylight-saving changes, and
becomes a UTC instant only when it is placed on the time line. Reminders are derived
from the stored schedule (never from timers alone), so after a restart the next ones
are simply computed again from `now`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from dateutil import rrule

TITLE_MAX = 128
DURATION_PRESETS: dict[str, timedelta | None] = {
    "30m": timedelta(minutes=30),
    "45m": timedelta(minutes=45),
    "1h": timedelta(hours=1),
    "1h30m": timedelta(hours=1, minutes=30),
    "2h": timedelta(hours=2),
    "3h": timedelta(hours=3),
    "4h": timedelta(hours=4),
    "5h": timedelta(hours=5),
    "all_day": None,
}
REPEAT_PRESETS = {
    "never": None,
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "weekdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
}
DEFAULT_REMINDERS = (timedelta(minutes=15), timedelta(0))


class ScheduleError(ValueError):
    """A schedule a user asked for that cannot be kept; the message says why."""


@dataclass(frozen=True)
class Schedule:
    """When a lesson happens. `start` is naive local wall time in `time_zone`."""

    title: str
    start: datetime
    time_zone: str
    duration: timedelta | None  # None: all day
    rrule: str | None = None  # RFC 5545 RRULE value, without "RRULE:"
    reminders: tuple[timedelta, ...] = DEFAULT_REMINDERS  # before each start
    waiting_room: bool = True
    uid: str = ""
    exdates: tuple[datetime, ...] = field(default=())  # cancelled local starts

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    local_start: datetime  # naive wall time in the schedule's zone


@dataclass(frozen=True)
class Reminder:
    at: datetime  # aware, UTC: when to notify
    occurrence: Occurrence
    before: timedelta


def check_time_zone(name: str) -> str:
    """The name, if it is an IANA time zone; else ScheduleError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name!r} is not an IANA time zone") from None
    return name


def when_in(schedule: Schedule, occurrence: Occurrence | None, zone: str) -> str:
    """A lesson's time as a reader in `zone` sees it: "2026-03-30 18:00 (America/New_York),
    repeating FREQ=WEEKLY"."""
    if occurrence is None:  # no further lesson: its first start, in the schedule's zone
        text = f"{schedule.start:%Y-%m-%d %H:%M} ({schedule.time_zone})"
    else:
        text = f"{occurrence.start.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"
    return text + (f", repeating {schedule.rrule}" if schedule.rrule else "")


def check_schedule(
    *,
    title: str,
    start: datetime,
    time_zone: str,
    duration: str | None = None,
    end: datetime | None = None,
    repeat: str = "never",
    reminders: tuple[timedelta, ...] = DEFAULT_REMINDERS,
    waiting_room: bool = True,
    uid: str,
) -> Schedule:
    """Validate what a user entered and return the Schedule, or raise ScheduleError."""
    title = title.strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise ScheduleError(f"the title must be 1 to {TITLE_MAX} characters")
    check_time_zone(time_zone)
    if start.tzinfo is not None:
        raise ScheduleError("the start is local wall time in the given time zone")
    length: timedelta | None
    if end is not None:
        if end <= start:
            raise ScheduleError("the end must come after the start")
        length = end - start
    elif duration is not None:
        if duration not in DURATION_PRESETS:
            raise ScheduleError(f"duration must be one of {', '.join(DURATION_PRESETS)}")
        length = DURATION_PRESETS[duration]
    else:
        raise ScheduleError("give an end or a duration")
    rule = _rule_for(repeat)
    if rule is not None:
        try:
            rrule.rrulestr(rule, dtstart=start)
        except (ValueError, TypeError) as exc:
            raise ScheduleError(f"repeat rule not understood: {exc}") from None
    if any(r < timedelta(0) for r in reminders):
        raise ScheduleError("reminders come before the start, not after")
    if length is None:
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return Schedule(
        title=title,
        start=start,
        time_zone=time_zone,
        duration=length,
        rrule=rule,
        reminders=tuple(sorted(set(reminders), reverse=True)),
        waiting_room=waiting_room,
        uid=uid,
    )


def _rule_for(repeat: str) -> str | None:
    if repeat in REPEAT_PRESETS:
        return REPEAT_PRESETS[repeat]
    text = repeat.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "FREQ=" not in text.upper():
        raise ScheduleError("repeat is never, daily, weekly, weekdays, or an RRULE with FREQ")
    return text


def _place(schedule: Schedule, local_start: datetime) -> Occurrence:
    zone = schedule.zone
    # fold=0: in the repeated hour of autumn take the first; a start in the skipped
    # spring hour lands an hour later on the clock, as calendars do
    start = local_start.replace(tzinfo=zone).astimezone(UTC)
    if schedule.duration is None:
        end_local = local_start + timedelta(days=1)
        end = end_local.replace(tzinfo=zone).astimezone(UTC)
    else:
        end = start + schedule.duration
    return Occurrence(start=start, end=end, local_start=local_start)


def _local_starts(schedule: Schedule) -> Iterator[datetime]:
    if schedule.rrule is None:
        yield schedule.start
        return
    excluded = set(schedule.exdates)
    for local in rrule.rrulestr(schedule.rrule, dtstart=schedule.start):
        if local not in excluded:
            yield local


def occurrences(schedule: Schedule, after: datetime, before: datetime) -> list[Occurrence]:
    """Occurrences that have not ended by `after` and start before `before` (aware)."""
    found = []
    # wall time differs from UTC by at most a day: start looking a little early
    earliest_local = after.astimezone(schedule.zone).replace(tzinfo=None) - timedelta(days=2)
    for local in _local_starts(schedule):
        if schedule.duration is not None and local + schedule.duration < earliest_local:
            continue
        if schedule.duration is None and local + timedelta(days=2) < earliest_local:
            continue
        occurrence = _place(schedule, local)
        if occurrence.start >= before:
            break
        if occurrence.end > after:
            found.append(occurrence)
    return found


def next_occurrence(schedule: Schedule, now: datetime) -> Occurrence | None:
    """The occurrence going on at `now`, or else the next one (None when over)."""
    first = schedule.start.replace(tzinfo=schedule.zone)
    horizon = max(now, first) + timedelta(days=800)
    upcoming = occurrences(schedule, now, horizon)
    return upcoming[0] if upcoming else None


def reminders_between(schedule: Schedule, after: datetime, before: datetime) -> list[Reminder]:
    """Every reminder instant in [after, before), in time order."""
    if not schedule.reminders:
        return []
    longest = max(schedule.reminders)
    found = [
        Reminder(at=o.start - r, occurrence=o, before=r)
        for o in occurrences(schedule, after, before + longest)
        for r in schedule.reminders
        if after <= o.start - r < before
    ]
    return sorted(found, key=lambda reminder: reminder.at)


def to_ics(schedule: Schedule, *, url: str, now: datetime, description: str = "") -> bytes:
    """An RFC 5545 calendar with the lesson as a VEVENT (RRULE, VALARMs, VTIMEZONE)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//parta//lessons//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", schedule.uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("summary", schedule.title)
    if schedule.duration is None:
        event.add("dtstart", schedule.start.date())
        event.add("dtend", (schedule.start + timedelta(days=1)).date())
    else:
        event.add("dtstart", schedule.start.replace(tzinfo=schedule.zone))
        event.add("dtend", (schedule.start + schedule.duration).replace(tzinfo=schedule.zone))
    if schedule.rrule is not None:
        event.add("rrule", icalendar.vRecur.from_ical(schedule.rrule))
    event.add("url", url)
    event.add("description", f"{description}\n{url}".strip())
    for before in schedule.reminders:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", schedule.title)
        alarm.add("trigger", -before)
        event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
