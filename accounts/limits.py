"""Failed log-ins are limited per login and per address, so passwords cannot be guessed
at speed. In memory: a restart forgets, which costs a guesser little time at most."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable


class FailureLimiter:
    def __init__(
        self,
        *,
        per_key: dict[str, int] | None = None,
        window: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # how many failures each kind of key may have within the window
        self.per_key = per_key or {"login": 10, "ip": 50}
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        horizon = self.clock() - self.window
        while found and found[0] < horizon:
            found.popleft()
        if not found:
            del self._failures[key]
        return found

    def wait(self, keys: Iterable[str]) -> float:
        """Seconds until these keys may try again (0: now)."""
        longest = 0.0
        for key in keys:
            limit = self.per_key.get(key.split(":", 1)[0], 10)
            recent = self._recent(key)
            if len(recent) >= limit:
                longest = max(longest, recent[0] + self.window - self.clock())
        return longest

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
