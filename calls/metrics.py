"""What the media plane and the calls hold, read at scrape time: rooms, peers, viewers,
the waiting, and the SFU's counters."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from calls.service import Calls
from sfu.drops import DROP_REASONS
from sfu.worker import Worker


class MediaCollector(Collector):
    def __init__(self, worker: Worker, calls: Calls) -> None:
        self._worker = worker
        self._calls = calls

    def collect(self) -> Iterator[Metric]:
        counts = self._worker.counts()
        yield GaugeMetricFamily(
            "parta_rooms", "Calls with a live room", value=len(self._calls.rooms)
        )
        yield GaugeMetricFamily(
            "parta_peers", "Participants in calls", value=self._calls.peer_count()
        )
        yield GaugeMetricFamily(
            "parta_viewers", "WHEP viewers watching calls", value=self._calls.viewer_count()
        )
        yield GaugeMetricFamily(
            "parta_waiting", "People in waiting rooms", value=self._calls.waiting_count()
        )
        yield GaugeMetricFamily("parta_transports", "WebRTC transports", value=counts["transports"])
        yield GaugeMetricFamily("parta_producers", "Incoming tracks", value=counts["producers"])
        yield GaugeMetricFamily(
            "parta_consumers", "Outgoing track copies", value=counts["consumers"]
        )
        t = self._worker.totals()
        for name, doc, value in (
            ("parta_rtp_packets_in", "RTP packets received from publishers", t.rtp_packets_in),
            ("parta_rtp_bytes_in", "RTP bytes received from publishers", t.rtp_bytes_in),
            ("parta_rtp_packets_out", "RTP packets forwarded to subscribers", t.rtp_packets_out),
            ("parta_rtp_bytes_out", "RTP bytes forwarded to subscribers", t.rtp_bytes_out),
            ("parta_keyframes_in", "Keyframes received from publishers", t.keyframes_in),
            (
                "parta_keyframe_requests_received",
                "PLI/FIR received from subscribers",
                t.keyframe_requests_received,
            ),
            (
                "parta_keyframe_requests_sent",
                "PLI sent to publishers (after rate limiting)",
                t.keyframe_requests_sent,
            ),
            ("parta_nacks_received", "NACK packets received from subscribers", t.nacks_received),
            ("parta_nacks_sent", "NACK packets sent to publishers for lost packets", t.nacks_sent),
            ("parta_retransmissions", "Packets resent from history for NACKs", t.retransmissions),
            ("parta_srtp_errors", "SRTP/SRTCP packets that failed to decrypt", t.srtp_errors),
            ("parta_rtcp_packets_in", "RTCP packets received", t.rtcp_packets_in),
            ("parta_rtcp_packets_out", "RTCP packets sent", t.rtcp_packets_out),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        dropped = CounterMetricFamily(
            "parta_packets_dropped", "RTP packets not forwarded, by reason", labels=["reason"]
        )
        # every reason always there, so a rate() starts at zero
        for reason, count in {**dict.fromkeys(DROP_REASONS, 0), **t.packets_dropped}.items():
            dropped.add_metric([reason], count)
        yield dropped
