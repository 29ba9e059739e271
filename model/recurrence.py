"""Repeat rules of lessons: the part of RFC 5545's RRULE that lessons use, and stepping
through one from the window asked for, never from the lesson's first start. Pure.

The design: model/DESIGN.md, *recurrence.py*."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil import rrule

RULE_MAX = 256  # characters of RRULE text
MAX_INTERVAL = 100
MAX_COUNT = 365  # a school year of daily lessons and more; stepping 365 takes a few ms
MAX_YEARLY_COUNT = 50  # yearly steps are dearer in dateutil: fifty years
FREQS: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "HOURLY": rrule.HOURLY,
    "DAILY": rrule.DAILY,
    "WEEKLY": rrule.WEEKLY,
    "MONTHLY": rrule.MONTHLY,
    "YEARLY": rrule.YEARLY,
}
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
UNSUPPORTED = (
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
)
_NUMBER = re.compile(r"[0-9]{1,6}")
_DAY = re.compile(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"([0-9]{8})(?:T([0-9]{6})(Z?))?")


class RuleError(ValueError):
    """A repeat rule that lessons cannot use; the message says why."""


@dataclass(frozen=True)
class Rule:
    """A parsed repeat rule. `until` is naive wall time in the lesson's zone, inclusive."""

    freq: str
    interval: int = 1
    count: int | None = None
    until: datetime | None = None
    until_text: str | None = None  # as given, for the canonical text
    byday: tuple[tuple[int, int | None], ...] = ()  # (weekday, 0 = Monday; ordinal)
    wkst: int | None = None

    @property
    def text(self) -> str:
        """The rule as RRULE text, its parts in one order (the presets' own texts)."""
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.until_text is not None:
            parts.append(f"UNTIL={self.until_text}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.byday:
            days = (f"{'' if n is None else f'{n:+d}'}{DAYS[d]}" for d, n in self.byday)
            parts.append("BYDAY=" + ",".join(days))
        if self.wkst is not None:
            parts.append(f"WKST={DAYS[self.wkst]}")
        return ";".join(parts)


def _number(name: str, value: str, low: int, high: int) -> int:
    if not _NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise RuleError(f"the repeat rule's {name} must be a whole number from {low} to {high}")
    return int(value)


def _until(value: str, zone: ZoneInfo) -> datetime:
    """UNTIL as wall time: a date means through that day; a UTC time is converted."""
    match = _UNTIL.fullmatch(value)
    if match is None:
        raise RuleError("the repeat rule's UNTIL is a date (20270601) or a time (20270601T090000)")
    day, time, utc = match.groups()
    try:
        if time is None:
            return datetime.strptime(day, "%Y%m%d").replace(hour=23, minute=59, second=59)
        moment = datetime.strptime(day + time, "%Y%m%d%H%M%S")
    except ValueError:
        raise RuleError("the repeat rule's UNTIL is not a real date and time") from None
    if not utc:
        return moment
    try:
        return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    except OverflowError:  # the very end of year 9999: "for ever"
        return moment


def _byday(value: str, freq: str, interval: int) -> tuple[tuple[int, int | None], ...]:
    if freq in ("HOURLY", "YEARLY"):
        raise RuleError(f"the repeat rule cannot have BYDAY with FREQ={freq}")
    if freq == "DAILY" and interval != 1:
        # every 7th day from a Tuesday never falls on a Monday
        raise RuleError("the repeat rule cannot have BYDAY with a daily INTERVAL; use WEEKLY")
    found: list[tuple[int, int | None]] = []
    for token in value.split(","):
        match = _DAY.fullmatch(token)
        if match is None:
            raise RuleError(f"the repeat rule's BYDAY has {token[:8]!r}, not a day like MO or 1MO")
        ordinal = None if match.group(1) is None else int(match.group(1))
        if ordinal is not None and (freq != "MONTHLY" or not 1 <= abs(ordinal) <= 4):
            # the fifth Monday is missing from most months, and yearly rules are by date
            raise RuleError("the repeat rule's BYDAY numbers are 1 to 4 or -1 to -4, monthly")
        day = (DAYS.index(match.group(2)), ordinal)
        if day not in found:
            found.append(day)
    return tuple(found)


def parse_rule(text: str, zone: ZoneInfo) -> Rule:
    """The rule, if lessons can use it; else RuleError."""
    text = text.strip().upper()
    if text.startswith("RRULE:"):
        text = text[6:]
    if len(text) > RULE_MAX:
        raise RuleError(f"the repeat rule is longer than {RULE_MAX} characters")
    parts: dict[str, str] = {}
    for part in filter(None, text.split(";")):
        name, equals, value = part.partition("=")
        if not equals or not value:
            raise RuleError(f"the repeat rule's {part[:16]!r} is not NAME=VALUE")
        if name in parts:
            raise RuleError(f"the repeat rule gives {name[:16]} twice")
        parts[name] = value
    freq = parts.pop("FREQ", "")
    if freq in ("MINUTELY", "SECONDLY"):
        raise RuleError("a lesson repeats at most every hour: the repeat rule's FREQ")
    if freq not in FREQS:
        raise RuleError("the repeat rule's FREQ is HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY")
    interval = _number("INTERVAL", parts.pop("INTERVAL", "1"), 1, MAX_INTERVAL)
    count = None
    if "COUNT" in parts:
        most = MAX_YEARLY_COUNT if freq == "YEARLY" else MAX_COUNT
        count = _number("COUNT", parts.pop("COUNT"), 1, most)
    until_text = parts.pop("UNTIL", None)
    if count is not None and until_text is not None:
        raise RuleError("the repeat rule has COUNT or UNTIL, not both")
    until = None if until_text is None else _until(until_text, zone)
    byday = _byday(parts.pop("BYDAY"), freq, interval) if "BYDAY" in parts else ()
    wkst = None
    if "WKST" in parts:
        if parts["WKST"] not in DAYS:
            raise RuleError("the repeat rule's WKST is a day: MO, TU, WE, TH, FR, SA or SU")
        wkst = DAYS.index(parts.pop("WKST"))
    for name in parts:
        if name in UNSUPPORTED:
            raise RuleError(f"the repeat rule's {name} is not supported for lessons")
        raise RuleError(f"the repeat rule has {name[:16]!r}, which is not part of a rule")
    return Rule(freq, interval, count, until, until_text, byday, wkst)


def _months_later(start: datetime, months: int) -> datetime:
    """The first of the month `months` after start's, at start's time of day."""
    total = start.month - 1 + months
    return start.replace(year=start.year + total // 12, month=total % 12 + 1, day=1)


def shifted_start(rule: Rule, start: datetime, not_before: datetime) -> datetime:
    """The latest start of one of the rule's periods that is no later than `not_before`
    (and no earlier than `start`): where stepping through the rule may begin."""
    if rule.count is not None or not_before <= start:
        return start
    n = rule.interval
    if rule.freq in ("HOURLY", "DAILY", "WEEKLY"):
        unit = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1)}.get(
            rule.freq, timedelta(weeks=1)
        )
        period = unit * n
        return start + period * ((not_before - start) // period)
    if rule.freq == "MONTHLY":
        months = (not_before.year - start.year) * 12 + not_before.month - start.month
    else:
        months = (not_before.year - start.year) * 12
    step = n if rule.freq == "MONTHLY" else 12 * n
    periods = months // step
    while periods > 0:
        moved = _months_later(start, periods * step)
        if moved <= not_before:
            return moved
        periods -= 1
    return start


def starts(rule: Rule, start: datetime, not_before: datetime) -> Iterator[datetime]:
    """The rule's lesson starts (naive wall time) in order, from the last period that
    begins no later than `not_before`: a few steps before the window, whatever `start`."""
    dtstart = shifted_start(rule, start, not_before)
    weekdays = [rrule.weekdays[d] if n is None else rrule.weekdays[d](n) for d, n in rule.byday]
    # what dateutil would take from DTSTART, given before DTSTART moves
    bymonth = bymonthday = None
    if not weekdays:
        if rule.freq == "WEEKLY":
            weekdays = [rrule.weekdays[start.weekday()]]
        elif rule.freq == "MONTHLY":
            bymonthday = start.day
        elif rule.freq == "YEARLY":
            bymonth, bymonthday = start.month, start.day
    return iter(
        rrule.rrule(
            FREQS[rule.freq],
            dtstart=dtstart,
            interval=rule.interval,
            wkst=rule.wkst,
            count=rule.count,
            until=rule.until,
            byweekday=weekdays or None,
            bymonth=bymonth,
            bymonthday=bymonthday,
        )
    )
