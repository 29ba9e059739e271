"""Prometheus metrics counted where things happen. What is read at scrape time (the SFU's
plain integer counters, rooms, broadcasts, edges) is collected beside what it reads:
calls/metrics.py, broadcast/metrics.py."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        # parta_edge_pipes, _relays, _viewers and _pipe_bytes: broadcast.edges

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

    # the job queue's (transcription.jobs.JobEvents)
    def job(self, event: str, count: int = 1) -> None:
        self.job_events.labels(event).inc(count)




