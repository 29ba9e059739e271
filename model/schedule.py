"""Scheduled lessons: recurrence, reminders and calendar files. Pure: `now` is passed in.

The design: model/DESIGN.md, *schedule.py*."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from model.recurrence import Rule, RuleError, parse_rule, starts

TITLE_MAX = 128
PAST = timedelta(days=2 * 366)  # how far before `now` a new lesson may start
AHEAD = timedelta(days=10 * 366)  # and how far after
LAST_YEAR = 2100  # a stored lesson starting later is not evaluated
LONGEST = timedelta(hours=24)  # a lesson's length, at most
LONGEST_REMINDER = timedelta(days=7)  # how long before a lesson a reminder may come
MAX_REMINDERS = 5
SLACK = timedelta(hours=3)  # a wall clock jumps by at most 2 hours (Antarctica/Troll)
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


@dataclass(frozen=True)
class Evaluation:
    """Occurrences found, and the work it took: `steps` is how many starts the repeat
    rule was stepped through (each period of an accepted rule holds one, or at worst
    one in twelve)."""

    occurrences: tuple[Occurrence, ...]
    steps: int


def check_time_zone(name: str) -> str:
    """The name, if it is an IANA time zone; else ScheduleError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name[:64]!r} is not an IANA time zone") from None
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
    now: datetime,
    duration: str | None = None,
    end: datetime | None = None,
    repeat: str = "never",
    reminders: tuple[timedelta, ...] = DEFAULT_REMINDERS,
    waiting_room: bool = True,
    uid: str,
    kept_start: datetime | None = None,
) -> Schedule:
    """Validate what a user entered and return the Schedule, or raise ScheduleError.

    The start must lie within PAST before `now` and AHEAD after it, unless it is
    `kept_start` (an edited lesson's own start, begun long ago and kept as it was)."""
    title = title.strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise ScheduleError(f"the title must be 1 to {TITLE_MAX} characters")
    if not _is_text(title):
        raise ScheduleError("the title must be text without control characters")
    check_time_zone(time_zone)
    zone = ZoneInfo(time_zone)
    if start.tzinfo is not None:
        raise ScheduleError("the start is local wall time in the given time zone")
    length: timedelta | None
    if end is not None:
        if end.tzinfo is not None:
            raise ScheduleError("the end is local wall time in the given time zone")
        if end <= start:
            raise ScheduleError("the end must come after the start")
        length = end - start
        if length > LONGEST:
            raise ScheduleError("a lesson lasts at most 24 hours: the end is too late")
    elif duration is not None:
        if duration not in DURATION_PRESETS:
            raise ScheduleError(f"duration must be one of {', '.join(DURATION_PRESETS)}")
        length = DURATION_PRESETS[duration]
    else:
        raise ScheduleError("give an end or a duration")
    start = start.replace(microsecond=0)
    if length is None:
        start = start.replace(hour=0, minute=0, second=0)
    if start != kept_start:
        local_now = now.astimezone(zone).replace(tzinfo=None)
        earliest, latest = local_now - PAST, local_now + AHEAD
        if not earliest <= start <= latest:
            raise ScheduleError(
                f"the start must lie between {earliest:%Y-%m-%d} and {latest:%Y-%m-%d}"
            )
    if start.year > LAST_YEAR:
        raise ScheduleError(f"the start must come before {LAST_YEAR + 1}")
    rule = _rule_for(repeat, zone)
    if len(reminders) > MAX_REMINDERS:
        raise ScheduleError(f"at most {MAX_REMINDERS} reminders")
    if any(r < timedelta(0) for r in reminders):
        raise ScheduleError("reminders come before the start, not after")
    if any(r > LONGEST_REMINDER for r in reminders):
        raise ScheduleError("a reminder comes at most 7 days (10080 minutes) before")
    if rule is not None and next(starts(rule, start, start), None) is None:
        raise ScheduleError("the repeat rule ends before the first lesson")
    return Schedule(
        title=title,
        start=start,
        time_zone=time_zone,
        duration=length,
        rrule=None if rule is None else rule.text,
        reminders=tuple(sorted(set(reminders), reverse=True)),
        waiting_room=waiting_room,
        uid=uid,
    )


def _is_text(text: str) -> bool:
    """Encodable (no lone surrogates) and without control characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def _rule_for(repeat: str, zone: ZoneInfo) -> Rule | None:
    text = REPEAT_PRESETS.get(repeat, repeat)
    if text is None:
        return None
    if "FREQ=" not in text.upper():
        raise ScheduleError("repeat is never, daily, weekly, weekdays, or an RRULE with FREQ")
    try:
        return parse_rule(text, zone)
    except RuleError as exc:
        raise ScheduleError(str(exc)) from None


def problem_of(schedule: Schedule) -> str | None:
    """Why a stored schedule cannot be evaluated (None: it can). New schedules pass
    check_schedule and never have one; rows stored before it, or by hand, may."""
    try:
        zone = schedule.zone
    except (ZoneInfoNotFoundError, ValueError):
        return "its time zone is not known"
    if schedule.start.tzinfo is not None:
        return "its start is not wall time"
    if schedule.start.year > LAST_YEAR:
        return f"it starts after {LAST_YEAR}"
    if schedule.duration is not None and not timedelta(0) < schedule.duration <= LONGEST:
        return "it lasts longer than 24 hours"
    if any(not timedelta(0) <= r <= LONGEST_REMINDER for r in schedule.reminders):
        return "a reminder comes more than 7 days before"
    if schedule.rrule is not None:
        try:
            parse_rule(schedule.rrule, zone)
        except RuleError as exc:
            return str(exc)
    return None


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


def _local_starts(schedule: Schedule, not_before: datetime) -> Iterator[datetime]:
    if schedule.rrule is None:
        yield schedule.start
        return
    rule = parse_rule(schedule.rrule, schedule.zone)
    yield from starts(rule, schedule.start, not_before)


def evaluate(
    schedule: Schedule, after: datetime, before: datetime, *, first: bool = False
) -> Evaluation:
    """Occurrences that have not ended by `after` and start before `before` (aware);
    with `first`, only the first of them. A schedule with a problem_of has none."""
    if problem_of(schedule) is not None:
        return Evaluation((), 0)
    # an occurrence lasts `reach` of wall time, give or take a clock change: one that
    # starts more than reach + SLACK before `after` on the wall clock is over by then
    reach = schedule.duration if schedule.duration is not None else timedelta(days=1)
    earliest_local = after.astimezone(schedule.zone).replace(tzinfo=None) - SLACK
    excluded = set(schedule.exdates)
    found: list[Occurrence] = []
    steps = 0
    for local in _local_starts(schedule, earliest_local - reach):
        steps += 1
        if local in excluded or local + reach < earliest_local:
            continue
        occurrence = _place(schedule, local)
        if occurrence.start >= before:
            break
        if occurrence.end > after:
            found.append(occurrence)
            if first:
                break
    return Evaluation(tuple(found), steps)


def occurrences(schedule: Schedule, after: datetime, before: datetime) -> list[Occurrence]:
    """Occurrences that have not ended by `after` and start before `before` (aware)."""
    return list(evaluate(schedule, after, before).occurrences)


def upcoming(schedule: Schedule, now: datetime) -> Evaluation:
    """The occurrence going on at `now`, or else the next one (none when over)."""
    if problem_of(schedule) is not None:
        return Evaluation((), 0)
    first = schedule.start.replace(tzinfo=schedule.zone)
    horizon = max(now, first) + timedelta(days=800)
    return evaluate(schedule, now, horizon, first=True)


def next_occurrence(schedule: Schedule, now: datetime) -> Occurrence | None:
    """The occurrence going on at `now`, or else the next one (None when over)."""
    found = upcoming(schedule, now).occurrences
    return found[0] if found else None


def reminders_between(schedule: Schedule, after: datetime, before: datetime) -> list[Reminder]:
    """Every reminder instant in [after, before), in time order."""
    if not schedule.reminders or problem_of(schedule) is not None:
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
