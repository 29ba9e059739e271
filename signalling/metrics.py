"""Prometheus metrics. Media counters are plain integers in the SFU, read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sfu.drops import DROP_REASONS
from sfu.worker import Worker

if TYPE_CHECKING:
    from signalling.broadcasts import Broadcasts
    from signalling.calls import Calls


class Metrics:
    """The app's registry: event metrics updated where they happen, plus a collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.join_to_first_media = Histogram(
            "parta_join_to_first_media_seconds",
            "Time from a participant's join to the first media packet to or from them",
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.protocol_errors = Counter(
            "parta_protocol_errors",
            "Call-protocol messages answered with an error, by code",
            ["code"],
            registry=self.registry,
        )
        self.http_errors = Counter(
            "parta_http_errors",
            "HTTP requests answered with a client or server error, by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.cross_origin = Counter(
            "parta_cross_origin_refused",
            "Requests refused because another origin's page sent them, by kind (write, websocket)",
            ["kind"],
            registry=self.registry,
        )
        self.invalid_input = Counter(
            "parta_invalid_input",
            "JSON bodies, queries and call-protocol messages refused by validation, by "
            "endpoint (or message type) and problem",
            ["endpoint", "problem"],
            registry=self.registry,
        )
        self.host_actions = Counter(
            "parta_host_actions",
            "Host controls carried out, by action",
            ["action"],
            registry=self.registry,
        )
        self.reminders = Counter(
            "parta_reminder_emails",
            "Lesson reminders e-mailed to invitees, by outcome (sent, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.schedule_steps = Counter(
            "parta_schedule_rule_steps",
            "Lesson starts stepped through to answer schedule requests: a few per lesson "
            "and window asked for, however long ago the lesson began",
            registry=self.registry,
        )
        self.schedule_bad_rows = Counter(
            "parta_schedule_bad_rows",
            "Stored lessons found that cannot be read (skipped) or evaluated (shown to "
            "their organiser with the problem), once each, by kind (unreadable, unusable)",
            ["kind"],
            registry=self.registry,
        )
        self.uploads = Counter(
            "parta_uploads",
            "Resumable uploads, by event (complete, interrupted, expired, sweep_failed;"
            " refused_quota, refused_open_count, refused_open_bytes)",
            ["event"],
            registry=self.registry,
        )
        self.viewer_drops = Counter(
            "parta_viewer_drops",
            "Broadcast viewers cut by the slow-viewer policy: stalled, too_slow",
            ["reason"],
            registry=self.registry,
        )
        self.segment_encode = Histogram(
            "parta_broadcast_segment_encode_seconds",
            "CPU time the broadcast encoder spent encoding one HLS segment",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0),
            registry=self.registry,
        )
        self.websocket_sessions = Counter(
            "parta_websocket_sessions",
            "WebSocket sessions opened",
            registry=self.registry,
        )
        self.decode_errors = Counter(
            "parta_media_decode_errors",
            "Coded frames from publishers that the recorder or the broadcast encoder could "
            "not decode (skipped; video waits for the next keyframe), by what",
            ["what"],
            registry=self.registry,
        )
        self.login_throttled = Counter(
            "parta_login_throttled",
            "Password tries (log-in, password change) refused or slowed by the log-in "
            "limits, by reason: refused (one address, one login: 429), delayed_login (a "
            "login failing from many addresses), delayed_address (an address failing on "
            "many logins)",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("refused", "delayed_login", "delayed_address"):
            self.login_throttled.labels(reason)  # shown at 0 before any
        self.cluster = ClusterMetrics(self.registry)

    def attach(self, worker: Worker, calls: Calls) -> None:
        self.registry.register(_MediaCollector(worker, calls))

    def attach_broadcasts(self, broadcasts: Broadcasts) -> None:
        broadcasts.on_encoded = self.segment_encode.observe
        broadcasts.on_decode_errors = self.decode_errors.labels("broadcast").inc
        self.decode_errors.labels("recording")  # shown at 0 before any
        self.registry.register(_BroadcastCollector(broadcasts))


class ClusterMetrics:
    """A cluster's moving parts (all zero on a single node)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.nodes = Gauge(
            "parta_cluster_nodes", "Live nodes this node sees in Redis", registry=registry
        )
        self.heartbeat_errors = Counter(
            "parta_cluster_heartbeat_errors",
            "Heartbeats that could not reach Redis",
            registry=registry,
        )
        self.redirects = Counter(
            "parta_cluster_redirects",
            "Clients sent to the node that hosts their call, by way (ws, whip, whep, hls)",
            ["way"],
            registry=registry,
        )
        self.bus_events = Counter(
            "parta_bus_events",
            "Chat events on the cross-node bus, by direction (published, received)",
            ["direction"],
            registry=registry,
        )
        self.bus_delivery = Histogram(
            "parta_bus_delivery_seconds",
            "From an event's publication on one node to its hand-off to connections here",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
            registry=registry,
        )
        self.bus_reconnects = Counter(
            "parta_bus_reconnects",
            "Times the bus lost Redis and resumed from the last event it had",
            registry=registry,
        )
        self.bus_gaps = Counter(
            "parta_bus_gaps",
            "Times the bus found events gone from Redis before it read them (trimmed, or "
            "lost with a Redis restart) and told its clients to read their chats again",
            registry=registry,
        )
        self.job_events = Counter(
            "parta_job_queue_events",
            "Job queue events, by event (queued, taken, acked, reclaimed, delayed)",
            ["event"],
            registry=registry,
        )
        self.jobs_pending = Gauge(
            "parta_job_queue_pending",
            "Jobs taken by some node and not yet acknowledged, cluster-wide",
            registry=registry,
        )
        # parta_edge_pipes, _relays, _viewers and _pipe_bytes: signalling.edges

    # the bus's counters (chat.bus.BusMetrics)
    def published(self, count: int) -> None:
        self.bus_events.labels("published").inc(count)

    def received(self, age: float) -> None:
        self.bus_events.labels("received").inc()
        self.bus_delivery.observe(age)

    def reconnected(self) -> None:
        self.bus_reconnects.inc()

    def gap(self) -> None:
        self.bus_gaps.inc()

    # the job queue's (signalling.jobs.JobEvents)
    def job(self, event: str, count: int = 1) -> None:
        self.job_events.labels(event).inc(count)


class _BroadcastCollector(Collector):
    def __init__(self, broadcasts: Broadcasts) -> None:
        self._broadcasts = broadcasts

    def collect(self) -> Iterator[Metric]:
        broadcasts = self._broadcasts
        live = list(broadcasts.by_room.values())
        yield GaugeMetricFamily("parta_broadcasts", "Calls being broadcast", value=len(live))
        viewers = GaugeMetricFamily(
            "parta_broadcast_viewers",
            "Viewers of this node's broadcasts watching here, by tier (not edge pipes)",
            labels=["tier"],
        )
        counts = [broadcasts.counts(b) for b in live]
        viewers.add_metric(["webrtc"], sum(c[0] for c in counts))
        viewers.add_metric(["hls"], sum(c[1] for c in counts))
        yield viewers
        served = CounterMetricFamily(
            "parta_broadcast_bytes_served",
            "Bytes sent to broadcast viewers, by tier (HLS: what parta served itself)",
            labels=["tier"],
        )
        for tier, value in broadcasts.totals().items():
            served.add_metric([tier], value)
        yield served
        now = time.monotonic()
        ages = [now - b.latest_at for b in live if b.latest_at is not None]
        yield GaugeMetricFamily(
            "parta_broadcast_playlist_age_seconds",
            "Time since the newest HLS part of any live broadcast was written (the oldest)",
            value=max(ages, default=0.0),
        )


class _MediaCollector(Collector):
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
