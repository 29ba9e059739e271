"""Active speaker detection from RFC 6464 audio levels. Pure: time is passed in."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

# Levels are -dBov: 0 is the loudest, 127 silence. Speech sits around 20..50.
SPEAKING_LEVEL = 55
SILENCE_LEVEL = 127


@dataclass
class _Candidate:
    loudness: float = 0.0  # smoothed 127 - level, so higher is louder
    last_heard: float = float("-inf")


@dataclass
class ActiveSpeakerDetector:
    """Chooses the loudest speaking participant, with hysteresis against flapping.

    `observe` is fed the mean level of each audio source over the last tick;
    `tick(now)` returns the new speaker's key when it changes, else None.
    A challenger takes over when it is louder than the current speaker by `margin`
    dB (smoothed), or when the current speaker has been quiet for `hold` seconds.
    """

    margin: float = 6.0
    hold: float = 1.5
    smoothing: float = 0.5
    current: Hashable | None = None
    _candidates: dict[Hashable, _Candidate] = field(default_factory=dict)

    def observe(self, key: Hashable, mean_level: float | None, now: float) -> None:
        candidate = self._candidates.setdefault(key, _Candidate())
        level = SILENCE_LEVEL if mean_level is None else mean_level
        loudness = SILENCE_LEVEL - level
        candidate.loudness += self.smoothing * (loudness - candidate.loudness)
        if level <= SPEAKING_LEVEL:
            candidate.last_heard = now

    def remove(self, key: Hashable) -> None:
        self._candidates.pop(key, None)
        if self.current == key:
            self.current = None

    def tick(self, now: float) -> Hashable | None:
        speaking = [
            (c.loudness, k) for k, c in self._candidates.items() if now - c.last_heard <= self.hold
        ]
        if not speaking:
            return None
        loudness, loudest = max(speaking, key=lambda item: item[0])
        if loudest == self.current:
            return None
        current = self._candidates.get(self.current) if self.current is not None else None
        if (
            current is None
            or now - current.last_heard > self.hold
            or loudness >= current.loudness + self.margin
        ):
            self.current = loudest
            return loudest
        return None
