"""The recorder's tap in a real producer's fan-out: what it takes, and its drop policy."""

from __future__ import annotations

from recorder.tap import PacketQueue, Tap
from sfu.codecs import RtpCodec
from sfu.producer import Producer
from sfu.router import Router
from sfu.totals import Totals
from sfu.transport import TransportSettings
from tests.sfu.test_consumer import DELTA, KEY, Clock, packet


def video_producer(clock: Clock, asked: list[int]) -> Producer:
    return Producer(
        "cam",
        kind="video",
        source="camera",
        owner="teacher",
        ssrc=1,
        codec=RtpCodec("video/VP8", 90000, 96),
        mid="0",
        send_keyframe_request=asked.append,
        keyframe_interval=0.0,
        clock=clock,
    )


def test_the_tap_starts_at_a_keyframe_and_drops_to_the_next_one_when_behind() -> None:
    clock, asked = Clock(), []
    producer = video_producer(clock, asked)
    queue = PacketQueue(limit=3)
    tap = Tap(producer, queue, clock=clock)
    router = Router("room", TransportSettings(), Totals())
    router.add_tap(producer, tap)
    assert asked  # a new tap asks for a keyframe to start from
    producer.on_rtp(packet(1, 100, DELTA, marker=True), 12, None)  # before any keyframe
    producer.on_rtp(packet(2, 200, KEY, marker=True), 12, None)
    producer.on_rtp(packet(3, 300, DELTA, marker=True), 12, None)
    assert [p.seq for p in queue.drain()] == [2, 3]
    assert queue.drain() == []
    # the recorder falls behind: the queue fills, the tap drops and asks for a keyframe
    before = len(asked)
    for seq in range(4, 9):
        clock.now += 1.0
        producer.on_rtp(packet(seq, seq * 100, DELTA, marker=True), 12, None)
    assert len(queue) == 3 and queue.dropped == 1 and tap.dropped == 1
    assert len(asked) > before and tap.waiting_for_keyframe
    queue.drain()
    producer.on_rtp(packet(9, 900, DELTA, marker=True), 12, None)  # still waiting
    producer.on_rtp(packet(10, 1000, KEY, marker=True), 12, None)
    assert [p.seq for p in queue.drain()] == [10]
    # a host mutes the source: the tap is paused like every consumer, and restarts at a
    # keyframe
    router.set_forwarding(producer, False)
    producer.on_rtp(packet(11, 1100, KEY, marker=True), 12, None)
    assert queue.drain() == []
    router.set_forwarding(producer, True)
    producer.on_rtp(packet(12, 1200, DELTA, marker=True), 12, None)
    producer.on_rtp(packet(13, 1300, KEY, marker=True), 12, None)
    assert [p.seq for p in queue.drain()] == [13]
    router.remove_tap(producer, tap)
    producer.on_rtp(packet(14, 1400, KEY, marker=True), 12, None)
    assert queue.drain() == [] and tap not in producer.consumers
