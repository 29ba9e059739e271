"""Sequence, timestamp, SSRC and payload-type rewriting, and NACK answers."""

from __future__ import annotations

import struct

from sfu.codecs import RtpCodec
from sfu.consumer import Consumer
from sfu.producer import Producer

VP8 = RtpCodec("video/VP8", 90000, 96)
KEY = bytes([0x10, 0x00, 0x9D])
DELTA = bytes([0x10, 0x01, 0x00])


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sink:
    """Collects what a consumer sends, as a transport would put it on the wire."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.accept = True
        self.refusal = ""
        self.reason = "send_buffer_full"  # what a refusal says

    def send_rtp(self, packet: bytes) -> bool:
        if self.accept:
            self.packets.append(packet)
        else:
            self.refusal = self.reason
        return self.accept


def packet(seq: int, ts: int, payload: bytes, *, ssrc: int = 1111, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq, ts, ssrc) + payload


def fields(data: bytes) -> tuple[int, int, int, int, bool, bytes]:
    _b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    return b1 & 0x7F, seq, ts, ssrc, bool(b1 & 0x80), data[12:]


def make(clock: Clock, ssrc: int = 1111) -> Producer:
    return Producer(
        "p", kind="video", source="camera", owner="o", ssrc=ssrc, codec=VP8, mid="0", clock=clock
    )


def wire(clock: Clock, *, ssrc: int = 7, payload_type: int = 96) -> tuple[Producer, Sink, Consumer]:
    """A producer with one consumer whose packets land in a Sink."""
    producer = make(clock)
    sink = Sink()
    consumer = Consumer(
        "c",
        producer=producer,
        sink=sink,
        ssrc=ssrc,
        payload_type=payload_type,
        mid="1",
        clock=clock,
    )
    producer.consumers = (consumer,)
    return producer, sink, consumer


def test_rewrites_header_and_starts_on_keyframe() -> None:
    clock = Clock()
    producer, sink, _consumer = wire(clock, ssrc=2222, payload_type=100)
    producer.on_rtp(packet(10, 1000, DELTA), 12, None)  # not decodable yet: held back
    producer.on_rtp(packet(11, 4000, KEY, marker=True), 12, None)
    producer.on_rtp(packet(12, 7000, DELTA), 12, None)
    assert len(sink.packets) == 2
    (pt1, s1, t1, ssrc1, m1, p1), (pt2, s2, t2, _, m2, p2) = map(fields, sink.packets)
    assert (pt1, ssrc1, m1, p1) == (100, 2222, True, KEY)
    assert (s2 - s1) & 0xFFFF == 1 and (t2 - t1) & 0xFFFFFFFF == 3000
    assert (pt2, m2, p2) == (100, False, DELTA)


def test_switching_producers_keeps_sequence_and_clock_continuous() -> None:
    clock = Clock()
    first, second = make(clock, 1), make(clock, 2)
    sink = Sink()
    consumer = Consumer(
        "c", producer=first, sink=sink, ssrc=5, payload_type=96, mid="0", clock=clock
    )
    first.consumers = (consumer,)
    first.on_rtp(packet(100, 50_000, KEY, ssrc=1), 12, None)
    first.on_rtp(packet(101, 53_000, DELTA, ssrc=1), 12, None)
    clock.now += 0.5
    consumer.switch_producer(second)
    first.consumers, second.consumers = (), (consumer,)
    second.on_rtp(packet(9_000, 1_000_000, DELTA, ssrc=2), 12, None)  # waits for a keyframe
    second.on_rtp(packet(9_001, 1_003_000, KEY, ssrc=2), 12, None)
    seqs = [fields(p)[1] for p in sink.packets]
    stamps = [fields(p)[2] for p in sink.packets]
    assert len(seqs) == 3
    assert (seqs[2] - seqs[1]) & 0xFFFF == 1
    gap = (stamps[2] - stamps[1]) & 0xFFFFFFFF
    assert 0.45 * 90000 < gap < 0.55 * 90000  # the wall-clock gap, not the source's jump


def test_nack_resends_from_history_in_the_subscriber_numbering() -> None:
    clock = Clock()
    producer, sink, consumer = wire(clock)
    producer.on_rtp(packet(500, 0, KEY), 12, None)
    for i in range(1, 5):
        producer.on_rtp(packet(500 + i, 3000 * i, DELTA + bytes([i])), 12, None)
    lost = fields(sink.packets[2])
    assert consumer.on_nack([lost[1], (lost[1] + 1000) & 0xFFFF]) == 1
    again = fields(sink.packets[-1])
    assert again[1:] == lost[1:]
    assert consumer.retransmissions == 1


def test_a_refusing_sink_counts_drops() -> None:
    clock = Clock()
    producer, sink, consumer = wire(clock)
    sink.accept = False
    producer.on_rtp(packet(1, 0, KEY), 12, None)
    assert consumer.dropped == {"send_buffer_full": 1} and consumer.packets == 0
    assert consumer.offered == 1 and consumer.forwarded == 0


def test_a_dropped_packet_is_a_gap_the_subscriber_sees() -> None:
    """The rewrite renumbers, but not over a drop: NACK and the decoder see it."""
    clock = Clock()
    producer, sink, consumer = wire(clock)
    producer.on_rtp(packet(10, 0, KEY), 12, None)
    producer.on_rtp(packet(11, 0, DELTA), 12, None)
    sink.accept = False
    producer.on_rtp(packet(12, 0, DELTA), 12, None)
    sink.accept = True
    producer.on_rtp(packet(13, 0, DELTA), 12, None)
    first = fields(sink.packets[0])[1]
    assert [(fields(p)[1] - first) & 0xFFFF for p in sink.packets] == [0, 1, 3]
    assert consumer.offered == 4 and consumer.forwarded == 3
    assert consumer.dropped == {"send_buffer_full": 1}


def test_a_keyframe_that_could_not_be_sent_is_waited_for_again() -> None:
    clock = Clock()
    producer, sink, consumer = wire(clock)
    sink.accept = False  # its send buffer is full
    producer.on_rtp(packet(1, 0, KEY), 12, None)
    sink.accept = True
    producer.on_rtp(packet(2, 3000, DELTA), 12, None)  # a delta must not start the stream
    assert sink.packets == []
    assert consumer.keyframe_requests == 1  # the next keyframe is asked for at once
    producer.on_rtp(packet(3, 6000, KEY), 12, None)
    assert [fields(p)[5] for p in sink.packets] == [KEY]
    assert consumer.dropped == {"send_buffer_full": 1, "waiting_keyframe": 1}
    assert consumer.offered == 3 and consumer.forwarded == 1


def test_fan_out_order_rotates_after_each_frame() -> None:
    clock = Clock()
    producer = make(clock)
    order: list[str] = []

    class Named(Sink):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def send_rtp(self, packet: bytes) -> bool:
            order.append(self.name)
            return True

    producer.consumers = tuple(
        Consumer(n, producer=producer, sink=Named(n), ssrc=i, payload_type=96, mid=n, clock=clock)
        for i, n in enumerate("abc")
    )
    producer.on_rtp(packet(1, 0, KEY, marker=True), 12, None)
    producer.on_rtp(packet(2, 3000, DELTA), 12, None)  # same frame continues: no rotation
    producer.on_rtp(packet(3, 3000, DELTA, marker=True), 12, None)
    assert order == ["a", "b", "c", "b", "c", "a", "b", "c", "a"]


def test_nobody_to_send_to_asks_for_no_keyframe() -> None:
    """A stage with no viewer yet refuses with no_viewer: waiting for the next keyframe
    is right, asking the publisher for one (again and again) is not."""
    clock = Clock()
    producer, sink, consumer = wire(clock)
    sink.accept = False
    for seq, reason in enumerate(("no_viewer", "not_connected")):
        sink.reason = reason
        producer.on_rtp(packet(seq, 0, KEY), 12, None)
    assert consumer.keyframe_requests == 0
    assert consumer.dropped == {"no_viewer": 1, "not_connected": 1}
