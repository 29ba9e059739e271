"""Recurrence, reminders and .ics files for scheduled lessons, across time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from signalling.schedule import (
    ScheduleError,
    check_schedule,
    next_occurrence,
    occurrences,
    reminders_between,
    to_ics,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NOW = utc(2027, 1, 1)  # when these lessons are scheduled


def test_weekly_lesson_keeps_its_wall_time_across_berlin_dst() -> None:
    # Europe/Berlin moves to summer time on Sunday 28 March 2027
    lesson = check_schedule(
        title="Maths 7b",
        start=datetime(2027, 3, 15, 9, 0),
        time_zone="Europe/Berlin",
        duration="45m",
        repeat="weekly",
        uid="l1",
        now=NOW,
    )
    found = occurrences(lesson, utc(2027, 3, 14), utc(2027, 4, 6))
    assert [o.local_start for o in found] == [
        datetime(2027, 3, 15, 9),
        datetime(2027, 3, 22, 9),
        datetime(2027, 3, 29, 9),
        datetime(2027, 4, 5, 9),
    ]
    assert [o.start for o in found] == [
        utc(2027, 3, 15, 8),
        utc(2027, 3, 22, 8),
        utc(2027, 3, 29, 7),
        utc(2027, 4, 5, 7),
    ]
    assert all(o.end - o.start == timedelta(minutes=45) for o in found)


def test_daily_lesson_across_new_york_dst_and_reminders_at_the_right_instants() -> None:
    # America/New_York moves to daylight time on Sunday 14 March 2027
    lesson = check_schedule(
        title="Reading club",
        start=datetime(2027, 3, 12, 18, 0),
        time_zone="America/New_York",
        duration="1h",
        repeat="daily",
        uid="l2",
        now=NOW,
    )
    reminders = reminders_between(lesson, utc(2027, 3, 13, 12), utc(2027, 3, 15, 12))
    assert [(r.at, r.before) for r in reminders] == [
        (utc(2027, 3, 13, 22, 45), timedelta(minutes=15)),
        (utc(2027, 3, 13, 23, 0), timedelta(0)),
        (utc(2027, 3, 14, 21, 45), timedelta(minutes=15)),
        (utc(2027, 3, 14, 22, 0), timedelta(0)),
    ]


def test_reminders_come_again_from_the_schedule_after_a_restart() -> None:
    lesson = check_schedule(
        title="Physics",
        start=datetime(2027, 10, 25, 8, 0),
        time_zone="Europe/Berlin",
        duration="1h",
        repeat="weekdays",
        uid="l3",
        now=NOW,
    )
    window_start, window_end = utc(2027, 10, 25), utc(2027, 11, 1)
    everything = reminders_between(lesson, window_start, window_end)
    # the server stops at some instant and starts again later: it computes what is
    # still due from the stored schedule, and nothing is lost or sent twice
    restart = everything[3].at + timedelta(seconds=1)
    before_stop = [r for r in everything if r.at < restart]
    after_start = reminders_between(lesson, restart, window_end)
    assert before_stop + after_start == everything
    assert len(everything) == 2 * 5  # weekdays only, two reminders each
    assert {r.occurrence.local_start.weekday() for r in everything} == {0, 1, 2, 3, 4}


def test_next_occurrence_and_a_lesson_that_is_over() -> None:
    once = check_schedule(
        title="Open day",
        start=datetime(2027, 5, 3, 10, 0),
        time_zone="Asia/Yekaterinburg",
        end=datetime(2027, 5, 3, 12, 30),
        uid="l4",
        now=NOW,
    )
    now = utc(2027, 5, 3, 5, 30)  # 10:30 local: going on
    current = next_occurrence(once, now)
    assert current is not None and current.start == utc(2027, 5, 3, 5)
    assert next_occurrence(once, utc(2027, 5, 3, 8)) is None


def test_ics_parses_back_to_the_same_event_and_alarms() -> None:
    lesson = check_schedule(
        title="Maths 7b",
        start=datetime(2027, 3, 15, 9, 0),
        time_zone="Europe/Berlin",
        duration="45m",
        repeat="FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10",
        uid="lesson-42@parta",
        now=NOW,
    )
    data = to_ics(lesson, url="http://127.0.0.1:8080/call/maths-7b", now=utc(2027, 3, 1))
    calendar = icalendar.Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert str(event["summary"]) == "Maths 7b"
    assert str(event["uid"]) == "lesson-42@parta"
    start = event.decoded("dtstart")
    assert start.replace(tzinfo=None) == datetime(2027, 3, 15, 9, 0)
    assert str(start.tzinfo) == "Europe/Berlin"
    assert event.decoded("dtend") - start == timedelta(minutes=45)
    assert event["rrule"].to_ical() == b"FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE"
    triggers = sorted(alarm.decoded("trigger") for alarm in event.walk("VALARM"))
    assert triggers == [timedelta(minutes=-15), timedelta(0)]
    assert calendar.walk("VTIMEZONE")[0]["tzid"] == "Europe/Berlin"
    assert "http://127.0.0.1:8080/call/maths-7b" in str(event["description"])


def test_all_day_event() -> None:
    day = check_schedule(
        title="Sports day",
        start=datetime(2027, 6, 1, 13, 0),
        time_zone="Europe/Berlin",
        duration="all_day",
        uid="l5",
        now=NOW,
    )
    (occurrence,) = occurrences(day, utc(2027, 5, 31), utc(2027, 6, 3))
    assert occurrence.local_start == datetime(2027, 6, 1)
    assert occurrence.end - occurrence.start == timedelta(days=1)
    event = icalendar.Calendar.from_ical(to_ics(day, url="u", now=utc(2027, 5, 1))).walk("VEVENT")[
        0
    ]
    assert str(event.decoded("dtstart")) == "2027-06-01"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 129}, "title"),
        ({"time_zone": "Mars/Olympus"}, "time zone"),
        ({"duration": "7h"}, "duration"),
        ({"repeat": "sometimes"}, "repeat"),
        ({"repeat": "FREQ=WEEKLY;BYDAY=XX"}, "repeat"),
        ({"duration": None, "end": datetime(2027, 1, 1, 8)}, "end"),
        ({"start": datetime(2027, 1, 1, 9, tzinfo=UTC)}, "local"),
    ],
)
def test_bad_schedules_are_refused_with_a_reason(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "title": "Maths",
        "start": datetime(2027, 1, 1, 9),
        "time_zone": "Europe/Berlin",
        "duration": "1h",
        "uid": "u",
        "now": NOW,
    }
    fields.update(changes)
    with pytest.raises(ScheduleError, match=message):
        check_schedule(**fields)  # type: ignore[arg-type]
