"""Producer: one incoming track, as it arrives from its publisher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from sfu.codecs import RtpCodec
from sfu.history import PacketHistory
from sfu.keyframe import KeyframeLimiter
from sfu.rtp import h264_keyframe_start, vp8_keyframe_start

NTP_EPOCH_OFFSET = 2208988800
# A larger gap is an outage, not loss: a keyframe request repairs it better.
MAX_NACK_BURST = 32


def _always_keyframe(payload: bytes) -> bool:
    # every audio packet can start a subscriber's stream
    return True


class Forwarder(Protocol):
    """Anything in a producer's fan-out: a subscriber's Consumer, or an in-process tap
    (the recorder's). The producer calls `forward` per packet; the router pauses and
    resumes it with the producer's forwarding switch (a host's mute)."""

    id: str

    def forward(self, seq: int, ts: int, head: int, keyframe: bool, payload: bytes) -> None: ...

    def on_producer_closed(self, producer: Producer) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class Producer:
    """An incoming RTP stream and the fan-out to its consumers.

    `on_rtp` is the per-packet entry point: synchronous, no allocation beyond the
    payload slice, one loop over an immutable tuple of consumers that the router
    swaps on subscribe and unsubscribe.
    """

    def __init__(
        self,
        producer_id: str,
        *,
        kind: str,
        source: str,
        owner: str,
        ssrc: int | None,
        codec: RtpCodec,
        mid: str,
        audio_level_id: int = 0,
        send_keyframe_request: Callable[[int], None] | None = None,
        send_nack: Callable[[int, list[int]], None] | None = None,
        keyframe_interval: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = producer_id
        self.kind = kind
        self.source = source
        self.owner = owner
        self.ssrc = ssrc
        self.codec = codec
        self.mid = mid
        self.audio_level_id = audio_level_id
        self.muted = False
        self.forwarding = True  # False while a host has muted this source
        self.closed = False
        self.consumers: tuple[Forwarder, ...] = ()
        self.history = PacketHistory(1024 if kind == "video" else 128)
        self._clock = clock
        self._clock_rate = codec.clock_rate
        self._send_keyframe_request = send_keyframe_request
        # Only video is worth asking again for: a late audio packet is useless.
        self._send_nack = send_nack if kind == "video" else None
        self._limiter = KeyframeLimiter(keyframe_interval)
        self._deferred: asyncio.TimerHandle | None = None
        # Chosen once: which keyframe test applies to this codec.
        if kind == "audio":
            self._keyframe_start: Callable[[bytes], bool] = _always_keyframe
        elif codec.name == "H264":
            self._keyframe_start = h264_keyframe_start
        else:
            self._keyframe_start = vp8_keyframe_start
        # counters (read at scrape time)
        self.packets = 0
        self.bytes = 0
        self.keyframes = 0
        self.keyframe_requests_sent = 0
        self.nacks_sent = 0
        self.dropped = 0
        # receive statistics for receiver reports (RFC 3550 A.1, A.3, A.8)
        self._max_seq = -1
        self._cycles = 0
        self._base_seq = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._transit = 0.0
        self.jitter = 0.0
        # last sender report from the publisher: (ntp, rtp timestamp, monotonic arrival)
        self.sender_report: tuple[int, int, float] | None = None
        # audio level accumulation for the speaker detector
        self.level_sum = 0
        self.level_count = 0
        self.last_keyframe_at: float | None = None

    # -- per packet -------------------------------------------------------------

    def on_rtp(self, packet: bytes, payload_start: int, level: int | None) -> None:
        """Forward one decrypted RTP packet whose payload starts at `payload_start`."""
        b0 = packet[0]
        seq = (packet[2] << 8) | packet[3]
        ts = (packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]
        # padding bit and marker, ready to OR with each consumer's payload type
        head = ((0x80 | (b0 & 0x20)) << 8) | (packet[1] & 0x80)
        payload = packet[payload_start:]
        self.packets += 1
        self.bytes += len(packet)
        now = self._clock()
        self._update_receive_stats(seq, ts, now)
        if level is not None:
            self.level_sum += level
            self.level_count += 1
        keyframe = self._keyframe_start(payload)
        if keyframe and self.kind == "video":
            self.keyframes += 1
            self.last_keyframe_at = now
        self.history.put(seq, ts, head, payload)
        consumers = self.consumers
        for consumer in consumers:
            consumer.forward(seq, ts, head, keyframe, payload)
        if head & 0x80 and len(consumers) > 1:
            # after each frame the next subscriber goes first: nobody is always last
            self.consumers = consumers[1:] + consumers[:1]

    def _update_receive_stats(self, seq: int, ts: int, now: float) -> None:
        if self._max_seq < 0:
            self._max_seq = seq
            self._base_seq = seq
        else:
            delta = (seq - self._max_seq) & 0xFFFF
            if 0 < delta < 0x8000:
                if delta > 1 and self._send_nack is not None:
                    self._ask_again(self._max_seq, delta)
                if seq < self._max_seq:
                    self._cycles += 0x10000
                self._max_seq = seq
        self._received += 1
        transit = now * self._clock_rate - ts
        if self._received > 1:
            d = abs(transit - self._transit)
            # transit wraps with the 32-bit timestamp; ignore those jumps
            if d < self._clock_rate * 10:
                self.jitter += (d - self.jitter) / 16
        self._transit = transit

    def _ask_again(self, last: int, delta: int) -> None:
        """Packets last+1 .. last+delta-1 never came: ask the publisher to resend them
        (it answers from its own history; the late copies are forwarded and kept)."""
        missing = [(last + i) & 0xFFFF for i in range(1, min(delta, MAX_NACK_BURST + 1))]
        self.nacks_sent += 1
        self._send_nack(self.ssrc or 0, missing)  # type: ignore[misc]

    # -- control ----------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per limiter interval."""
        if self.kind != "video" or self.closed or self.ssrc is None:
            return
        wait = self._limiter.request(self._clock())
        if wait is None:
            return
        if wait == 0.0:
            self._send_request()
        else:
            loop = asyncio.get_running_loop()
            self._deferred = loop.call_later(wait, self._send_deferred)

    def _send_deferred(self) -> None:
        self._deferred = None
        self._limiter.deferred_sent(self._clock())
        if not self.closed:
            self._send_request()

    def _send_request(self) -> None:
        if self._send_keyframe_request is not None and self.ssrc is not None:
            self.keyframe_requests_sent += 1
            self._send_keyframe_request(self.ssrc)

    def on_sender_report(self, ntp: int, rtp_timestamp: int) -> None:
        self.sender_report = (ntp, rtp_timestamp, self._clock())

    def take_audio_level(self) -> float | None:
        """Mean level (-dBov) since the last call, or None when nothing was heard."""
        if self.muted or not self.level_count:
            self.level_sum = self.level_count = 0
            return None
        mean = self.level_sum / self.level_count
        self.level_sum = self.level_count = 0
        return mean

    def receiver_report(self) -> tuple[int, int, int, int, int, int] | None:
        """(fraction_lost, cumulative_lost, extended_highest_seq, jitter, lsr, dlsr)."""
        if self._max_seq < 0:
            return None
        extended_max = self._cycles + self._max_seq
        expected = extended_max - self._base_seq + 1
        lost = max(0, expected - self._received)
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        lsr = dlsr = 0
        if self.sender_report is not None:
            ntp, _, arrived = self.sender_report
            lsr = (ntp >> 16) & 0xFFFFFFFF
            dlsr = min(0xFFFFFFFF, int((self._clock() - arrived) * 65536))
        return fraction, min(lost, 0x7FFFFF), extended_max & 0xFFFFFFFF, int(self.jitter), lsr, dlsr

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        for consumer in self.consumers:
            consumer.on_producer_closed(self)
        self.consumers = ()

    def dump(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "source": self.source,
            "owner": self.owner,
            "ssrc": self.ssrc,
            "mid": self.mid,
            "codec": self.codec.mime_type,
            "payload_type": self.codec.payload_type,
            "muted": self.muted,
            "consumers": [c.id for c in self.consumers],
            "packets": self.packets,
        }
