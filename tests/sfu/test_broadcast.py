"""The slow-viewer policy of a broadcast's stage, step by step on a clock of our own
(the fan-out itself runs end to end in tests/signalling/test_broadcast.py)."""

from __future__ import annotations

from typing import Any

from sfu.broadcast import SlowViewerPolicy, StageViewer

POLICY = SlowViewerPolicy()


def viewer() -> StageViewer:
    transport: Any = None  # the policy never touches the connection
    seat = StageViewer("v1", transport, clock=lambda: 0.0)
    seat.resumed(0.0)  # connected, past its first keyframe
    return seat


def test_loss_sends_video_to_keyframes_and_it_tries_again_later() -> None:
    seat = viewer()
    seat.report(5, 3.0, POLICY)  # 2%: fine
    assert not seat.keyframes_only
    seat.report(40, 4.0, POLICY)  # 15% lost
    assert seat.keyframes_only and not seat.wants_all
    seat.report(200, 5.0, POLICY)  # its reports now count skipped frames: ignored
    assert seat.check(7.0, POLICY) is None and not seat.wants_all
    assert seat.check(8.0, POLICY) is None and seat.wants_all  # 4 s on: try again
    seat.resumed(8.2)  # at the next keyframe
    assert not seat.keyframes_only
    seat.report(60, 9.0, POLICY)  # too soon after: still about the old mode
    assert not seat.keyframes_only
    seat.report(60, 11.0, POLICY)  # lossy again: back, and twice as long
    assert seat.keyframes_only
    assert seat.check(18.9, POLICY) is None and not seat.wants_all
    assert seat.check(19.0, POLICY) is None and seat.wants_all


def test_failed_sends_count_like_loss() -> None:
    seat = viewer()
    for n in range(4):
        seat.failed(1.0 + n * 0.1, POLICY)
    assert not seat.keyframes_only
    seat.failed(1.5, POLICY)
    assert seat.keyframes_only and seat.dropped == 5


def test_falling_back_again_and_again_cuts() -> None:
    seat = viewer()
    at = 3.0
    for _ in range(3):
        seat.report(60, at, POLICY)
        assert seat.keyframes_only
        while not seat.wants_all:
            at += 1.0
            assert seat.check(at, POLICY) is None
            seat.report(0, at, POLICY)
        seat.resumed(at)
        at += POLICY.grace
    seat.report(60, at, POLICY)
    assert seat.check(at, POLICY) == "too_slow"


def test_a_viewer_that_never_reports_is_kept_and_a_stalled_one_cut() -> None:
    seat = viewer()  # sends no receiver reports: its connection alone says it is there
    assert seat.check(600.0, POLICY) is None
    seat = viewer()
    seat.report(0, 5.0, POLICY)  # reported once, then never again: no reason either
    assert seat.check(600.0, POLICY) is None
    seat = viewer()
    for at in range(1, 12):
        seat.report(0, float(at), POLICY, keeping_up=at < 3)  # reports, nothing arrives
    assert seat.check(11.9, POLICY) is None
    assert seat.check(12.0, POLICY) == "stalled"
