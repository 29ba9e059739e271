"""How fast passwords may be tried, without letting anyone lock the owner out.

The design: accounts/DESIGN.md, *limits.py*."""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class LoginLimits:
    """The limiter's settings (tests make the delays short)."""

    pair_failures: int = 10  # one address on one login, per window, before 429
    window: float = 15 * 60  # seconds over which each count drains by its threshold
    login_free: int = 10  # failures on one login, per window, before tries wait
    address_free: int = 50  # failures from one address, per window, before tries wait
    first_delay: float = 0.25  # the wait at the threshold, doubled per failure beyond it
    max_delay: float = 5.0
    max_entries: int = 20_000  # per table
    # a count stops growing this far beyond its threshold, so an attack's slowing
    # wears off within a window or two of its end
    overshoot: int = 16


@dataclass(frozen=True)
class Verdict:
    """What to do with one try: refuse it for `retry_after` seconds (when more than 0),
    else answer it after `delay` seconds."""

    retry_after: float = 0.0
    delay: float = 0.0
    because: str = ""  # what decided: "pair", "login", "address" or ""


def address_key(address: str) -> str:
    """The address as the limiter counts it: an IPv6 address by its /64 (one
    subscriber's network, which a guesser could hop around in at no cost)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class _Bucket:
    __slots__ = ("at", "level")

    def __init__(self, level: float, at: float) -> None:
        self.level, self.at = level, at


class _Counts:
    """Leaky buckets by key, at most `max_entries` of them."""

    def __init__(self, rate: float, ceiling: float, max_entries: int) -> None:
        self.rate, self.ceiling, self.max_entries = rate, ceiling, max_entries
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()  # least recent first

    def __len__(self) -> int:
        return len(self._buckets)

    def level(self, key: Hashable, now: float) -> float:
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else self._drained(bucket, now)

    def _drained(self, bucket: _Bucket, now: float) -> float:
        return max(0.0, bucket.level - (now - bucket.at) * self.rate)

    def add(self, key: Hashable, amount: float, now: float) -> None:
        level = min(self.ceiling, self.level(key, now) + amount)
        bucket = self._buckets.pop(key, None)
        if level > 0:
            if bucket is None:
                bucket = _Bucket(level, now)
            else:
                bucket.level, bucket.at = level, now
            self._buckets[key] = bucket
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if self._drained(oldest, now) > 0 and len(self._buckets) <= self.max_entries:
                return
            del self._buckets[key]


class FailureLimiter:
    """Failed password tries by login and address; see the module's docstring."""

    def __init__(
        self, limits: LoginLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits = limits or LoginLimits()
        self.clock = clock

        def counts(threshold: int, ceiling: int) -> _Counts:
            # drained by `threshold` a window
            return _Counts(threshold / limits.window, ceiling, limits.max_entries)

        self._pairs = counts(limits.pair_failures, limits.pair_failures)
        self._logins = counts(limits.login_free, limits.login_free + limits.overshoot)
        self._addresses = counts(limits.address_free, limits.address_free + limits.overshoot)

    def sizes(self) -> tuple[int, int, int]:
        """How many pairs, logins and addresses are remembered."""
        return len(self._pairs), len(self._logins), len(self._addresses)

    def attempt(self, login: str, address: str) -> Verdict:
        """One more try of a password for `login` from `address` (an `address_key`):
        refused, or let through after a delay and counted as failed until `succeeded`."""
        now, limits = self.clock(), self.limits
        pair = self._pairs.level((login, address), now)
        if pair > limits.pair_failures - 1:
            # drained to just below the limit, one more try goes through
            wait = (pair - (limits.pair_failures - 1)) / self._pairs.rate
            return Verdict(retry_after=wait, because="pair")
        by_login = self._delay(self._logins.level(login, now), limits.login_free)
        by_address = self._delay(self._addresses.level(address, now), limits.address_free)
        self._count(login, address, 1, now)
        if by_login == by_address == 0:
            return Verdict()
        if by_login >= by_address:
            return Verdict(delay=by_login, because="login")
        return Verdict(delay=by_address, because="address")

    def succeeded(self, login: str, address: str) -> None:
        """The try let through had the right password: it did not fail, and the pair's
        earlier failures (the owner's own typing) are forgotten."""
        now = self.clock()
        self._pairs.add((login, address), -math.inf, now)
        self._logins.add(login, -1, now)
        self._addresses.add(address, -1, now)

    def _count(self, login: str, address: str, amount: float, now: float) -> None:
        self._pairs.add((login, address), amount, now)
        self._logins.add(login, amount, now)
        self._addresses.add(address, amount, now)

    def _delay(self, level: float, free: int) -> float:
        if level <= free - 1:  # as with the pair: the try after `free` failures waits
            return 0.0
        beyond = min(level - free, 64.0)  # 2**64 of any delay is past any cap
        return min(self.limits.max_delay, self.limits.first_delay * 2**beyond)
