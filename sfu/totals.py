"""What the media plane has counted, since the process started."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from sfu.consumer import Consumer, Outgoing
from sfu.drops import MALFORMED, PAYLOAD_TYPE, UNKNOWN_SSRC
from sfu.producer import Producer
from sfu.transport import WebRtcTransport


@dataclass
class Totals:
    """Counters of the whole worker. A closed producer, consumer or transport is added
    in when it closes, so totals never go backwards; `Worker.totals` adds the live ones
    on top of a copy at scrape time."""

    rtp_packets_in: int = 0
    rtp_bytes_in: int = 0
    rtp_packets_out: int = 0
    rtp_bytes_out: int = 0
    keyframes_in: int = 0
    keyframe_requests_received: int = 0
    keyframe_requests_sent: int = 0
    nacks_sent: int = 0
    nacks_received: int = 0
    retransmissions: int = 0
    # RTP packets not forwarded, by reason: a subscriber's (a consumer's, a stage
    # viewer's), or the publisher's that could not be used
    packets_dropped: dict[str, int] = field(default_factory=dict)
    srtp_errors: int = 0
    rtcp_packets_in: int = 0
    rtcp_packets_out: int = 0

    def add_producer(self, producer: Producer) -> None:
        self.rtp_packets_in += producer.packets
        self.rtp_bytes_in += producer.bytes
        self.keyframes_in += producer.keyframes
        self.keyframe_requests_sent += producer.keyframe_requests_sent
        self.nacks_sent += producer.nacks_sent
        self._dropped(PAYLOAD_TYPE, producer.dropped)

    def add_consumer(self, consumer: Consumer) -> None:
        self.rtp_packets_out += consumer.packets
        self.rtp_bytes_out += consumer.bytes
        self.keyframe_requests_received += consumer.keyframe_requests
        self.nacks_received += consumer.nacks_received
        self.retransmissions += consumer.retransmissions
        self._add_drops(consumer.dropped)

    def add_outgoing(self, stream: Outgoing) -> None:
        """A stream that is not a Consumer of its own: a broadcast viewer's end."""
        self.rtp_packets_out += stream.packets
        self.rtp_bytes_out += stream.bytes
        self._add_drops(stream.dropped)

    def add_transport(self, transport: WebRtcTransport) -> None:
        self._dropped(MALFORMED, transport.malformed)
        self._dropped(UNKNOWN_SSRC, transport.unknown_ssrc)
        self.srtp_errors += transport.srtp_errors + transport.rtcp_errors
        self.rtcp_packets_in += transport.rtcp_in
        self.rtcp_packets_out += transport.rtcp_out

    def _add_drops(self, dropped: dict[str, int]) -> None:
        for reason, count in dropped.items():
            self._dropped(reason, count)

    def _dropped(self, reason: str, count: int) -> None:
        if count:
            self.packets_dropped[reason] = self.packets_dropped.get(reason, 0) + count

    def copy(self) -> Totals:
        copied = Totals(**{f.name: getattr(self, f.name) for f in fields(self)})
        copied.packets_dropped = dict(self.packets_dropped)
        return copied
