"""Broadcasts and their edges, read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from broadcast.edges import Edges
from broadcast.service import Broadcasts


class BroadcastCollector(Collector):
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


class EdgeCollector(Collector):
    def __init__(self, edges: Edges) -> None:
        self._edges = edges

    def collect(self) -> Iterator[Metric]:
        edges = self._edges
        yield GaugeMetricFamily(
            "parta_edge_pipes",
            "Broadcast pipes this node sends to edge nodes (one per call and edge)",
            value=len(edges.pipes),
        )
        yield GaugeMetricFamily(
            "parta_edge_relays",
            "Broadcasts of other nodes this node relays to its own WHEP viewers",
            value=len(edges.relays),
        )
        viewers = GaugeMetricFamily(
            "parta_edge_viewers",
            "Viewers watching, on this node, a broadcast hosted on another, by tier",
            labels=["tier"],
        )
        here = edges.here().values()
        viewers.add_metric(["webrtc"], sum(c[0] for c in here))
        viewers.add_metric(["hls"], sum(c[1] for c in here))
        yield viewers
        yield CounterMetricFamily(
            "parta_edge_pipe_bytes",
            "RTP bytes sent to edge nodes through broadcast pipes",
            value=edges.pipe_bytes_total(),
        )
