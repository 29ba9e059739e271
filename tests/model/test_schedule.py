"""Recurrence, reminders and .ics files for scheduled lessons, across time zones and DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from model.schedule import (
    Schedule,
    ScheduleError,
    check_schedule,
    next_occurrence,
    occurrences,
    problem_of,
    reminders_between,
    to_ics,
    upcoming,
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


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (datetime(1, 1, 1), "between 2024-12-30 and 2037-01-08"),
        (datetime(2024, 12, 29, 23, 59), "between"),  # two years (of 366 days) back
        (datetime(2037, 1, 8, 0, 1), "between"),
        (datetime(9999, 1, 1), "between"),
    ],
)
def test_a_start_years_away_is_refused(start: datetime, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        check_schedule(
            title="Maths",
            start=start,
            time_zone="UTC",
            duration="1h",
            repeat="hourly" if start.year == 1 else "daily",
            uid="u",
            now=NOW,
        )


def test_starts_within_the_range_and_an_edited_lessons_own_start() -> None:
    for start in (datetime(2024, 12, 30), datetime(2037, 1, 8)):
        kept = check_schedule(
            title="Maths", start=start, time_zone="UTC", duration="1h", uid="u", now=NOW
        )
        assert kept.start == start
    # a lesson begun long ago keeps its start when edited; another old start is refused
    old = datetime(2019, 9, 2, 8)
    edited = check_schedule(
        title="Maths 2",
        start=old,
        time_zone="UTC",
        duration="1h",
        uid="u",
        now=NOW,
        kept_start=old,
    )
    assert edited.start == old
    with pytest.raises(ScheduleError, match="between"):
        check_schedule(
            title="Maths",
            start=old - timedelta(days=1),
            time_zone="UTC",
            duration="1h",
            uid="u",
            now=NOW,
            kept_start=old,
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": None, "end": datetime(2027, 1, 3, 9, 1)}, "at most 24 hours"),
        ({"reminders": (timedelta(days=8),)}, "7 days"),
        ({"reminders": tuple(timedelta(minutes=m) for m in range(6))}, "at most 5"),
        ({"title": "Maths \ud800"}, "text"),
        ({"title": "Maths\x00"}, "text"),
        ({"repeat": "FREQ=WEEKLY;UNTIL=20260101"}, "ends before the first lesson"),
        ({"repeat": "FREQ=MINUTELY"}, "repeat"),
    ],
)
def test_more_schedules_refused_with_a_reason(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "title": "Maths",
        "start": datetime(2027, 1, 2, 9),
        "time_zone": "Europe/Berlin",
        "duration": "1h",
        "uid": "u",
        "now": NOW,
    }
    fields.update(changes)
    with pytest.raises(ScheduleError, match=message):
        check_schedule(**fields)  # type: ignore[arg-type]


def test_a_stored_lesson_that_cannot_be_evaluated_has_a_problem_and_no_occurrences() -> None:
    # what the old code stored for a daily lesson in year 9999, and then failed on
    far = Schedule(
        "Late", datetime(9999, 1, 1, 9), "America/New_York", timedelta(hours=1), "FREQ=DAILY"
    )
    assert problem_of(far) == "it starts after 2100"
    assert next_occurrence(far, NOW) is None
    assert reminders_between(far, NOW, NOW + timedelta(days=1)) == []
    assert upcoming(far, NOW).steps == 0
    for lesson, problem in (
        (replace(far, start=datetime(2027, 1, 1), rrule="FREQ=SECONDLY"), "hour"),
        (replace(far, start=datetime(2027, 1, 1), time_zone="Mars/Olympus"), "time zone"),
        (replace(far, start=datetime(2027, 1, 1), duration=timedelta(days=4000)), "24 hours"),
    ):
        assert problem in (problem_of(lesson) or "")
        assert next_occurrence(lesson, NOW) is None
    assert problem_of(replace(far, start=datetime(1, 1, 1, 9))) is None  # evaluated, cheaply
