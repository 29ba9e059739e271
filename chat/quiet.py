"""Quiet hours: outside a teacher's working hours, notifications arrive silently."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from store.accounts import QuietHours


def is_quiet(hours: QuietHours, at: datetime) -> bool:
    """Whether `at` (aware) falls outside the working hours, in their time zone.
    Working hours may run past midnight (from 22:00 to 06:00): they belong to the day
    they start on."""
    local = at.astimezone(ZoneInfo(hours.time_zone))
    minute = local.hour * 60 + local.minute
    day = local.isoweekday()
    if hours.start_minute < hours.end_minute:
        working = day in hours.days and hours.start_minute <= minute < hours.end_minute
    else:  # overnight
        yesterday = 7 if day == 1 else day - 1
        working = (day in hours.days and minute >= hours.start_minute) or (
            yesterday in hours.days and minute < hours.end_minute
        )
    return not working
