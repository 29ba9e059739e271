"""Rate limit for keyframe requests relayed to a publisher."""

from __future__ import annotations


class KeyframeLimiter:
    """At most one keyframe request per `interval` seconds reaches the publisher.

    A request inside the interval is not lost: it is folded into one deferred
    request at the end of the interval. `request(now)` returns 0.0 to send now, the
    delay in seconds after which to send, or None when a deferred send is already due.
    """

    __slots__ = ("_interval", "_last", "_pending")

    def __init__(self, interval: float = 0.3) -> None:
        self._interval = interval
        self._last = float("-inf")
        self._pending = False

    def request(self, now: float) -> float | None:
        if self._pending:
            return None
        wait = self._last + self._interval - now
        if wait <= 0:
            self._last = now
            return 0.0
        self._pending = True
        return wait

    def deferred_sent(self, now: float) -> None:
        """Record that the deferred request went out."""
        self._pending = False
        self._last = now
