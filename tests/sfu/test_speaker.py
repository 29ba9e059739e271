from __future__ import annotations

from sfu.speaker import ActiveSpeakerDetector


def feed(detector: ActiveSpeakerDetector, levels: dict[str, float | None], now: float) -> object:
    for key, level in levels.items():
        detector.observe(key, level, now)
    return detector.tick(now)


def test_loudest_speaker_wins_and_holds() -> None:
    d = ActiveSpeakerDetector()
    assert feed(d, {"a": 30, "b": None}, 0.0) == "a"
    # b speaks a little louder: not enough to take over
    for i in range(1, 5):
        assert feed(d, {"a": 30, "b": 28}, i * 0.3) is None
    # a falls silent: after the hold time b takes over
    changed = [feed(d, {"a": None, "b": 28}, 2 + i * 0.3) for i in range(8)]
    assert "b" in changed
    assert d.current == "b"


def test_much_louder_challenger_takes_over_at_once() -> None:
    d = ActiveSpeakerDetector()
    feed(d, {"a": 50, "b": None}, 0.0)
    results = [feed(d, {"a": 50, "b": 10}, 0.3 * i) for i in range(1, 4)]
    assert "b" in results


def test_silence_elects_nobody_and_removal_forgets() -> None:
    d = ActiveSpeakerDetector()
    assert feed(d, {"a": 127, "b": None}, 0.0) is None
    feed(d, {"a": 20}, 1.0)
    d.remove("a")
    assert d.current is None
