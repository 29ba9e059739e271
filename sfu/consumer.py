"""Consumer: one subscriber's outgoing copy of a producer.

The design: sfu/DESIGN.md, *consumer.py*."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from sfu.drops import PAUSED, SEND_BUFFER_FULL, SEND_ERROR, WAITING_KEYFRAME
from sfu.rtp import HEADER

if TYPE_CHECKING:
    from sfu.producer import Producer


class RtpSink(Protocol):
    """Where a consumer's packets go: the subscriber's transport. A refused packet
    (False) leaves the reason in `refusal`."""

    refusal: str

    def send_rtp(self, packet: bytes) -> bool: ...




class Outgoing(Protocol):
    """An outgoing stream as its transport sees it: sent under `ssrc`, it answers the
    subscriber's feedback (NACK, PLI/FIR, receiver reports) and gives the numbers for
    our sender reports. A Consumer, or one viewer's end of a broadcast's stage."""

    id: str
    ssrc: int
    packets: int
    bytes: int
    dropped: dict[str, int]

    def on_nack(self, lost: Iterable[int]) -> int: ...

    def request_keyframe(self) -> None: ...

    def on_receiver_report(self, fraction_lost: int, jitter: int, highest: int) -> None: ...

    def sender_report(self) -> tuple[int, int] | None: ...


class Consumer:
    """Sends one producer's packets to one subscriber, under the consumer's own SSRC."""

    def __init__(
        self,
        consumer_id: str,
        *,
        producer: Producer | None,
        sink: RtpSink,
        ssrc: int,
        payload_type: int,
        mid: str,
        clock: Callable[[], float] = time.monotonic,
        kind: str = "",
    ) -> None:
        """`producer` None: one to follow comes later (`switch_producer`); then `kind`
        says what it will be."""
        self.id = consumer_id
        self.kind = producer.kind if producer is not None else kind
        self.producer: Producer | None = producer
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.mid = mid
        self.paused = False
        self.closed = False
        self._sink = sink
        self._clock = clock
        self._clock_rate = producer.codec.clock_rate if producer is not None else 90000
        # Every epoch starts on a keyframe; for audio every packet is one. `_renumber`:
        # the next start is a new epoch (else the numbering carries on, gap and all).
        self._waiting = True
        self._renumber = True
        self._seq_off = 0
        self._ts_off = 0
        self._epoch_start = 0
        self._last_seq = secrets.randbits(15)  # start low: avoids early SRTP rollover
        self._last_ts = secrets.randbits(32)
        self._last_sent_at: float | None = None
        self._synced = False
        # counters (offered and forwarded follow from them)
        self.packets = 0  # sent, retransmissions included
        self.bytes = 0
        self.dropped: dict[str, int] = {}
        self.retransmissions = 0
        self.nacks_received = 0
        self.keyframe_requests = 0
        # from the subscriber's receiver reports
        self.fraction_lost = 0
        self.remote_jitter = 0

    # -- per packet -------------------------------------------------------------

    def forward(self, seq: int, ts: int, head: int, keyframe: bool, payload: bytes) -> None:
        starting = False
        if self._waiting:
            if self.paused:
                self._drop(PAUSED)
                return
            if not keyframe:
                self._drop(WAITING_KEYFRAME)
                return
            if self._renumber:
                self._start_epoch(seq, ts)
            self._waiting = False
            starting = True
        elif self.paused:
            self._drop(PAUSED)
            return
        out_seq = (seq + self._seq_off) & 0xFFFF
        out_ts = (ts + self._ts_off) & 0xFFFFFFFF
        packet = HEADER.pack(head | self.payload_type, out_seq, out_ts, self.ssrc) + payload
        if self._sink.send_rtp(packet):
            self.packets += 1
            self.bytes += len(packet)
            self._last_seq = out_seq
            self._last_ts = out_ts
        else:
            refusal = self._sink.refusal
            self._drop(refusal)
            if starting and self.kind == "video":
                # the keyframe never left: what follows is undecodable until the next
                # one; the numbering carries on, so the gap shows. It is asked for at
                # once when a send failed, not when there was nobody to send to (a
                # stage with no viewer yet, a connection that is gone): that would
                # make the publisher send keyframes for nobody, three times a second
                self._waiting = True
                if refusal in (SEND_BUFFER_FULL, SEND_ERROR):
                    self.request_keyframe()

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    @property
    def forwarded(self) -> int:
        """Offered packets that were sent (not counting retransmissions)."""
        return self.packets - self.retransmissions

    @property
    def offered(self) -> int:
        """Every packet the producer handed this consumer: each one was sent or dropped."""
        return self.forwarded + sum(self.dropped.values())

    def _start_epoch(self, seq: int, ts: int) -> None:
        now = self._clock()
        out_seq = (self._last_seq + 1) & 0xFFFF
        if self._synced and self._last_sent_at is not None:
            # keep the subscriber's clock running across the gap
            elapsed = max(1, int((now - self._last_sent_at) * self._clock_rate))
            out_ts = (self._last_ts + elapsed) & 0xFFFFFFFF
        else:
            out_ts = self._last_ts
        self._seq_off = (out_seq - seq) & 0xFFFF
        self._ts_off = (out_ts - ts) & 0xFFFFFFFF
        self._epoch_start = out_seq
        self._last_sent_at = now
        self._renumber = False
        self._synced = True

    # -- feedback from the subscriber ------------------------------------------

    def on_nack(self, lost: Iterable[int]) -> int:
        """Resend the packets the subscriber reports lost, from the producer's history."""
        resent = 0
        self.nacks_received += 1
        for out_seq in lost:
            packet = self.rebuild(out_seq)
            if packet is not None and self._sink.send_rtp(packet):
                resent += 1
                self.packets += 1
                self.bytes += len(packet)
        self.retransmissions += resent
        return resent

    def rebuild(self, out_seq: int) -> bytes | None:
        """The packet we sent as `out_seq`, again, from the producer's history; None
        when it is no longer there or belongs to an earlier producer."""
        producer = self.producer
        if producer is None or not self._synced:
            return None
        # only packets of the current epoch map back to the current producer
        if (out_seq - self._epoch_start) & 0xFFFF >= 0x8000:
            return None
        entry = producer.history.get((out_seq - self._seq_off) & 0xFFFF)
        if entry is None:
            return None
        _, ts, head, payload = entry
        return (
            HEADER.pack(
                head | self.payload_type, out_seq, (ts + self._ts_off) & 0xFFFFFFFF, self.ssrc
            )
            + payload
        )

    @property
    def last_seq(self) -> int:
        """The sequence number of the last packet sent."""
        return self._last_seq

    def pause(self) -> None:
        """Stop forwarding (a host muted the source)."""
        self.paused = True

    def resume(self) -> None:
        """Forward again, from the next keyframe, continuing our numbering without a gap."""
        if self.paused:
            self.paused = False
            self._waiting = self._renumber = True
            self.request_keyframe()

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        if self.producer is not None:
            self.producer.request_keyframe()

    def on_receiver_report(self, fraction_lost: int, jitter: int, highest: int = 0) -> None:
        self.fraction_lost = fraction_lost
        self.remote_jitter = jitter

    # -- control ----------------------------------------------------------------

    def sender_report(self) -> tuple[int, int] | None:
        """(ntp, rtp timestamp) for an RTCP SR, from the publisher's own mapping.

        Translating the publisher's SR keeps lip sync exact: the same instant, in
        the subscriber's timestamp space.
        """
        producer = self.producer
        if producer is None or producer.sender_report is None or not self._synced:
            return None
        ntp, rtp_ts, _ = producer.sender_report
        return ntp, (rtp_ts + self._ts_off) & 0xFFFFFFFF

    def switch_producer(self, producer: Producer) -> None:
        """Follow another producer of the same kind; continues at its next keyframe."""
        self.producer = producer
        self._clock_rate = producer.codec.clock_rate
        self._waiting = self._renumber = True
        producer.request_keyframe()

    def on_producer_closed(self, producer: Producer) -> None:
        if self.producer is producer:
            self.producer = None

    def close(self) -> None:
        self.closed = True
        self.producer = None

    def dump(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "producer": self.producer.id if self.producer else None,
            "ssrc": self.ssrc,
            "payload_type": self.payload_type,
            "mid": self.mid,
            "paused": self.paused,
            "offered": self.offered,
            "packets": self.packets,
            "dropped": dict(self.dropped),
        }
