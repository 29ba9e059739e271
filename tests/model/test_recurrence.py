"""Repeat rules of lessons: stepped through from the window asked for, with exactly the
lessons dateutil finds from the first start, and rules that could run on refused."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule

from model.recurrence import MAX_COUNT, RuleError, parse_rule, shifted_start
from model.schedule import Schedule, evaluate, upcoming

RULES = [
    "FREQ=HOURLY",
    "FREQ=HOURLY;INTERVAL=5",
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=DAILY;BYDAY=MO,FR",
    "FREQ=WEEKLY",
    "FREQ=WEEKLY;INTERVAL=2",
    "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,SU;WKST=SU",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SA",
    "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=MONTHLY",
    "FREQ=MONTHLY;INTERVAL=5",
    "FREQ=MONTHLY;BYDAY=2TU,-1FR",
    "FREQ=MONTHLY;INTERVAL=2;BYDAY=WE",
    "FREQ=YEARLY",
    "FREQ=YEARLY;INTERVAL=3",
    "FREQ=WEEKLY;UNTIL=20290301T090000",
    "FREQ=DAILY;COUNT=40",
    "FREQ=MONTHLY;COUNT=30;BYDAY=1MO",
]
# with DST, a half-hour DST (Lord Howe), a half-hour offset, a two-hour DST (Troll)
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Antarctica/Troll",
    "UTC",
]
NOW = datetime(2026, 12, 7, 7, tzinfo=UTC)


def reference(schedule: Schedule, after: datetime, before: datetime) -> list[datetime]:
    """What dateutil finds stepping from the first start, as the code did before."""
    assert schedule.rrule is not None
    zone = schedule.zone
    found = []
    for local in rrule.rrulestr(schedule.rrule, dtstart=schedule.start):
        start = local.replace(tzinfo=zone).astimezone(UTC)
        if start >= before:
            break
        if schedule.duration is None:
            end = (local + timedelta(days=1)).replace(tzinfo=zone).astimezone(UTC)
        else:
            end = start + schedule.duration
        if end > after:
            found.append(local)
    return found


def test_stepping_from_the_window_finds_exactly_the_rules_lessons() -> None:
    # random lessons (starts on the 29th-31st too, all-day ones, zones with DST and a
    # half-hour one) and windows years later, across DST changes: the same lessons
    rng = random.Random(15)
    for _ in range(400):
        rule = rng.choice(RULES)
        start = datetime(2023, 1, 1) + timedelta(minutes=30 * rng.randrange(3 * 365 * 48))
        if start.month in (1, 3, 5, 7, 8, 10, 12) and rng.random() < 0.3:
            start = start.replace(day=rng.choice([29, 30, 31]))
        length = rng.choice([timedelta(minutes=45), timedelta(hours=5), None])
        if length is None:
            start = start.replace(hour=0, minute=0)
        lesson = Schedule("x", start, rng.choice(ZONES), length, rule)
        after = datetime(2023, 6, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(5 * 525_600))
        before = after + timedelta(hours=rng.choice([1, 30, 24 * 9, 24 * 70]))
        found = [o.local_start for o in evaluate(lesson, after, before).occurrences]
        assert found == reference(lesson, after, before), (lesson, after, before)


def test_windows_at_clock_changes_find_exactly_the_rules_lessons() -> None:
    # the window begins hours around a change of the clocks (Europe, the USA, Troll),
    # lessons last a minute to a day: the 3 hours looked back before it are enough
    rng = random.Random(16)
    for _ in range(300):
        year = rng.choice([2025, 2026, 2027])
        change = rng.choice(
            [datetime(year, 3, 30, 1), datetime(year, 10, 26, 1), datetime(year, 3, 9, 7)]
        ).replace(tzinfo=UTC)
        after = change + timedelta(minutes=rng.randrange(-300, 300))
        before = after + timedelta(minutes=rng.choice([1, 60, 200, 1500]))
        start = datetime(2024, 1, 1) + timedelta(minutes=15 * rng.randrange(3 * 365 * 96))
        length = rng.choice([timedelta(minutes=1), timedelta(minutes=45), timedelta(hours=24)])
        lesson = Schedule("x", start, rng.choice(ZONES), length, rng.choice(RULES))
        found = [o.local_start for o in evaluate(lesson, after, before).occurrences]
        assert found == reference(lesson, after, before), (lesson, after, before)


@pytest.mark.parametrize("rule", ["FREQ=DAILY", "FREQ=HOURLY", "FREQ=WEEKLY;BYDAY=MO,WE"])
def test_a_lesson_begun_in_year_1_takes_a_few_steps(rule: str) -> None:
    # a row stored before starts were checked: its next lesson takes as many steps as
    # one begun last week (a few: the slack before the window is 3 hours), not 740,000
    lesson = Schedule("old", datetime(1, 1, 1, 9), "Europe/Berlin", timedelta(hours=1), rule)
    recent = Schedule("new", datetime(2026, 12, 1, 9), "Europe/Berlin", timedelta(hours=1), rule)
    old, new = upcoming(lesson, NOW), upcoming(recent, NOW)
    assert old.steps <= 6 and old.steps <= new.steps + 1
    assert [o.start for o in old.occurrences] == [o.start for o in new.occurrences]


def test_the_start_moves_by_whole_periods_to_just_before_the_window() -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2020, 1, 31, 9)
    window = datetime(2026, 12, 7)
    monthly = shifted_start(parse_rule("FREQ=MONTHLY;INTERVAL=5", zone), start, window)
    assert monthly == datetime(2026, 9, 1, 9)  # 2020-01 + 16 x 5 months, on the 1st
    weekly = shifted_start(parse_rule("FREQ=WEEKLY;INTERVAL=2", zone), start, window)
    assert weekly.weekday() == start.weekday() and (weekly - start).days % 14 == 0
    assert timedelta(0) <= window - weekly < timedelta(days=14)
    # COUNT counts the lessons before the window: such a rule is not moved
    counted = parse_rule("FREQ=DAILY;COUNT=10", zone)
    assert shifted_start(counted, start, window) == start


def test_until_as_a_date_a_wall_time_or_utc() -> None:
    zone = ZoneInfo("Europe/Berlin")
    assert parse_rule("FREQ=DAILY;UNTIL=20270601", zone).until == datetime(2027, 6, 1, 23, 59, 59)
    assert parse_rule("FREQ=DAILY;UNTIL=20270601T090000", zone).until == datetime(2027, 6, 1, 9)
    assert parse_rule("FREQ=DAILY;UNTIL=20270601T070000Z", zone).until == datetime(2027, 6, 1, 9)
    # "for ever", as some calendars write it
    assert parse_rule("FREQ=DAILY;UNTIL=99991231T235959Z", zone).until is not None
    lesson = Schedule(
        "x",
        datetime(2027, 5, 30, 9),
        "Europe/Berlin",
        timedelta(hours=1),
        "FREQ=DAILY;UNTIL=20270601",
    )
    found = evaluate(lesson, datetime(2027, 5, 1, tzinfo=UTC), datetime(2027, 7, 1, tzinfo=UTC))
    assert [o.local_start.day for o in found.occurrences] == [30, 31, 1]


def test_the_canonical_text_is_the_presets_own() -> None:
    zone = ZoneInfo("UTC")
    assert parse_rule("rrule:freq=weekly;byday=mo,tu,we,th,fr", zone).text == (
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    )
    assert parse_rule("FREQ=MONTHLY;BYDAY=+2TU,-1FR;INTERVAL=2;", zone).text == (
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=+2TU,-1FR"
    )


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("FREQ=MINUTELY", "at most every hour"),
        ("FREQ=SECONDLY", "at most every hour"),
        ("FREQ=FORTNIGHTLY", "FREQ is"),
        ("INTERVAL=2", "FREQ is"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;INTERVAL=١٢", "INTERVAL"),  # digits, but not ASCII ones
        (f"FREQ=DAILY;COUNT={MAX_COUNT + 1}", "COUNT"),
        ("FREQ=YEARLY;COUNT=51", "COUNT"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "not both"),
        ("FREQ=DAILY;UNTIL=20271301", "real date"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL"),
        # rules that may match nothing for ever, which dateutil would step to year 9999
        ("FREQ=DAILY;INTERVAL=7;BYDAY=MO", "daily INTERVAL"),
        ("FREQ=MONTHLY;BYDAY=5MO", "1 to 4"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "BYMONTH"),
        ("FREQ=DAILY;BYMONTHDAY=31;BYMONTH=2", "BYMONTHDAY"),
        ("FREQ=HOURLY;BYDAY=MO", "BYDAY"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
        ("FREQ=WEEKLY;BYSETPOS=1", "not supported"),
        ("FREQ=WEEKLY;WKST=XX", "WKST"),
        ("FREQ=WEEKLY;FREQ=DAILY", "twice"),
        ("FREQ=WEEKLY;COLOUR=RED", "not part of a rule"),
        ("FREQ=WEEKLY;BYDAY", "NAME=VALUE"),
        ("FREQ=WEEKLY;BYDAY=" + ",".join(["MO"] * 100), "longer than"),
    ],
)
def test_rules_lessons_cannot_use_are_refused_with_a_reason(rule: str, why: str) -> None:
    with pytest.raises(RuleError, match=why) as refused:
        parse_rule(rule, ZoneInfo("Europe/Berlin"))
    assert "repeat" in str(refused.value)
