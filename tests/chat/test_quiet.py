"""Quiet hours in the teacher's own time zone, across daylight-saving changes and midnight."""

from __future__ import annotations

from datetime import UTC, datetime

from chat.quiet import is_quiet
from store.accounts import QuietHours

WEEKDAYS = (1, 2, 3, 4, 5)


def at(*parts: int) -> datetime:
    return datetime(*parts[:5], tzinfo=UTC)


def test_working_hours_in_several_zones() -> None:
    moscow = QuietHours(WEEKDAYS, 8 * 60, 17 * 60, "Europe/Moscow")  # UTC+3, no DST
    # Wednesday 2030-03-20: 05:00 UTC is 08:00 in Moscow (working), 04:59 is not
    assert is_quiet(moscow, at(2030, 3, 20, 4, 59))
    assert not is_quiet(moscow, at(2030, 3, 20, 5, 0))
    assert not is_quiet(moscow, at(2030, 3, 20, 13, 59))
    assert is_quiet(moscow, at(2030, 3, 20, 14, 0))  # 17:00: the day is over
    assert is_quiet(moscow, at(2030, 3, 23, 10, 0))  # Saturday
    # the same instant is working time in Vladivostok (UTC+10) and night in New York
    vladivostok = QuietHours(WEEKDAYS, 8 * 60, 17 * 60, "Asia/Vladivostok")
    new_york = QuietHours(WEEKDAYS, 8 * 60, 17 * 60, "America/New_York")
    instant = at(2030, 3, 20, 1, 0)
    assert not is_quiet(vladivostok, instant)  # 11:00 on Wednesday
    assert is_quiet(new_york, instant)  # 21:00 on Tuesday


def test_daylight_saving_moves_the_hours_in_utc() -> None:
    berlin = QuietHours(WEEKDAYS, 8 * 60, 17 * 60, "Europe/Berlin")
    # Friday 2030-03-29, winter time (UTC+1): 08:00 is 07:00 UTC
    assert is_quiet(berlin, at(2030, 3, 29, 6, 30))
    assert not is_quiet(berlin, at(2030, 3, 29, 7, 0))
    # Monday 2030-04-01, summer time (UTC+2): 08:00 is 06:00 UTC
    assert not is_quiet(berlin, at(2030, 4, 1, 6, 30))
    assert is_quiet(berlin, at(2030, 4, 1, 15, 0))  # 17:00 local


def test_hours_past_midnight_belong_to_the_day_they_start() -> None:
    night = QuietHours((5,), 22 * 60, 6 * 60, "UTC")  # Friday 22:00 to Saturday 06:00
    assert not is_quiet(night, at(2030, 3, 22, 23, 0))  # Friday night
    assert not is_quiet(night, at(2030, 3, 23, 5, 59))  # early Saturday
    assert is_quiet(night, at(2030, 3, 23, 6, 0))
    assert is_quiet(night, at(2030, 3, 21, 23, 0))  # Thursday night is not a working one
    assert is_quiet(night, at(2030, 3, 22, 21, 59))
