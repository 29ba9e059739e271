"""The slow-viewer policy of a broadcast's stage, step by step on a clock of our own
(the fan-out itself runs end to end in tests/broadcast/test_broadcast.py)."""

from __future__ import annotations

from typing import Any

from sfu.broadcast import SlowViewerPolicy, Stage, StageViewer
from sfu.producer import Producer
from sfu.router import Router
from sfu.totals import Totals
from sfu.transport import TransportSettings
from tests.sfu.test_consumer import DELTA, KEY, VP8, fields, packet

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


class ViewerSocket:
    """A stage viewer's transport as the fan-out sees it: what it sent, and a switch
    that makes the kernel refuse."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.full = False
        self.refusal = ""
        self.connected_callbacks: list[Any] = []

    def send_rtp(self, packet: bytes) -> bool:
        if self.full:
            self.refusal = "send_buffer_full"
            return False
        self.sent.append(packet)
        return True

    def when_connected(self, callback: Any) -> None:
        self.connected_callbacks.append(callback)

    def attach_consumer(self, end: object) -> None: ...

    def detach_consumer(self, end: object) -> None: ...


def test_every_packet_the_stage_sends_is_counted_per_viewer_and_a_drop_is_a_gap() -> None:
    router = Router("r", TransportSettings(), Totals())
    stage = Stage("s", router, ssrcs={"video": 5})
    producer = Producer(
        "p", kind="video", source="camera", owner="o", ssrc=None, codec=VP8, mid="0"
    )
    sockets = {name: ViewerSocket() for name in ("ann", "bob")}
    seats = {
        name: stage.add_viewer(name, transport, {"video": (VP8,)})  # type: ignore[arg-type]
        for name, transport in sockets.items()
    }
    stage.follow("video", producer)
    for transport in sockets.values():
        for connected in transport.connected_callbacks:
            connected()

    def frame(seq: int, key: bool) -> None:
        producer.on_rtp(packet(seq, seq * 3000, KEY if key else DELTA, marker=True), 12, None)

    frame(1, key=False)  # before the first keyframe: nobody can start on it
    frame(2, key=True)
    frame(3, key=False)
    sockets["bob"].full = True  # bob's send buffer is full for one packet
    frame(4, key=False)
    sockets["bob"].full = False
    seats["ann"]._slow(0.0, POLICY)  # ann is too slow for every frame: keyframes only
    frame(5, key=False)
    frame(6, key=True)

    def seqs(name: str) -> list[int]:
        first = fields(sockets[name].sent[0])[1]
        return [(fields(p)[1] - first) & 0xFFFF for p in sockets[name].sent]

    assert seqs("bob") == [0, 1, 3, 4]  # the refused packet is a gap bob sees
    assert seqs("ann") == [0, 1, 2, 4]  # so is the delta ann was spared
    ends = {name: seat.ends["video"] for name, seat in seats.items()}
    assert ends["bob"].dropped == {"send_buffer_full": 1}
    assert ends["ann"].dropped == {"keyframes_only": 1}
    # the first packet reached nobody's fan-out: the stage itself waited for a keyframe
    for end in ends.values():
        assert end.offered == 5 == end.packets + sum(end.dropped.values())
    totals = Totals()
    for end in ends.values():
        totals.add_outgoing(end)
    assert totals.packets_dropped == {"send_buffer_full": 1, "keyframes_only": 1}
