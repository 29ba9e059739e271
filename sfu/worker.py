"""Worker: the media plane of one process: its routers and its counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from sfu.consumer import Consumer, Outgoing
from sfu.drops import MALFORMED, PAYLOAD_TYPE, UNKNOWN_SSRC
from sfu.producer import Producer
from sfu.router import Router
from sfu.transport import TransportSettings, WebRtcTransport


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


class Worker:
    """Creates and finds routers; sums counters at scrape time."""

    def __init__(
        self, settings: TransportSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.routers: dict[str, Router] = {}
        self._retired = Totals()
        self._clock = clock
        self.closed = False

    def get_or_create_router(self, router_id: str) -> Router:
        router = self.routers.get(router_id)
        if router is None or router.closed:
            router = Router(router_id, self.settings, self._retired, clock=self._clock)
            self.routers[router_id] = router
        return router

    async def close_router(self, router_id: str) -> None:
        router = self.routers.pop(router_id, None)
        if router is not None:
            await router.close()

    def totals(self) -> Totals:
        """All counters: retired objects plus every live one, read now."""
        totals = self._retired.copy()
        for router in self.routers.values():
            for producer in router.producers.values():
                totals.add_producer(producer)
            for consumer in router.consumers.values():
                totals.add_consumer(consumer)
            for stage in router.stages:
                for stream in stage.outgoing():
                    totals.add_outgoing(stream)
            for transport in router.transports.values():
                totals.add_transport(transport)
        return totals

    def counts(self) -> dict[str, int]:
        return {
            "routers": len(self.routers),
            "transports": sum(len(r.transports) for r in self.routers.values()),
            "producers": sum(len(r.producers) for r in self.routers.values()),
            "consumers": sum(len(r.consumers) for r in self.routers.values()),
        }

    def codecs_opened(self) -> int:
        return sum(t.codecs_opened() for r in self.routers.values() for t in r.transports.values())

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for router_id in list(self.routers):
            await self.close_router(router_id)

    def dump(self) -> dict[str, object]:
        return {"routers": [r.dump() for r in self.routers.values()]}
