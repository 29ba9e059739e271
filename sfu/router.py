"""Router: one room's forwarding table, from producers to the consumers of each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sfu.consumer import Consumer, Outgoing
from sfu.producer import Forwarder, Producer
from sfu.sdp import IncomingTrack
from sfu.speaker import ActiveSpeakerDetector
from sfu.transport import TransportSettings, WebRtcTransport

if TYPE_CHECKING:
    from sfu.broadcast import Stage
    from sfu.totals import Totals

logger = logging.getLogger(__name__)

SPEAKER_TICK = 0.3


class Router:
    """Owns a room's transports, producers and consumers.

    Fan-out is the producer's loop over `producer.consumers`, an immutable tuple that
    only the router replaces, on subscribe and unsubscribe. Closing cascades:
    router → transports → producers and consumers.
    """

    def __init__(
        self,
        router_id: str,
        settings: TransportSettings,
        totals: Totals,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = router_id
        self.settings = settings
        self.closed = False
        self.transports: dict[str, WebRtcTransport] = {}
        self.producers: dict[str, Producer] = {}
        self.consumers: dict[str, Consumer] = {}
        self.detector = ActiveSpeakerDetector()
        self.on_active_speaker: Callable[[str], None] | None = None
        self.on_producer_closed: list[Callable[[Producer], None]] = []
        self.on_producer_added: list[Callable[[Producer], None]] = []
        self._totals = totals
        self._clock = clock
        self._consumer_transport: dict[str, WebRtcTransport] = {}
        self._producer_transport: dict[str, WebRtcTransport] = {}
        self._speaker_task: asyncio.Task[None] | None = None
        self.stages: list[Stage] = []  # broadcast stages fed by this router

    # -- transports ------------------------------------------------------------------

    def create_transport(self, transport_id: str, *, cname: str = "parta") -> WebRtcTransport:
        transport = WebRtcTransport(transport_id, self.settings, cname=cname, clock=self._clock)
        self.transports[transport_id] = transport
        transport.on_closed.append(self._on_transport_closed)
        return transport

    def _on_transport_closed(self, transport: WebRtcTransport) -> None:
        self.transports.pop(transport.id, None)
        for producer in transport.producers:
            self.close_producer(producer)
        for consumer in transport.consumers:
            if isinstance(consumer, Consumer):
                self.close_consumer(consumer)
        self._totals.add_transport(transport)

    # -- producers -------------------------------------------------------------------

    def create_producer(
        self,
        transport: WebRtcTransport,
        track: IncomingTrack,
        *,
        producer_id: str,
        source: str,
        owner: str,
    ) -> Producer:
        producer = Producer(
            producer_id,
            kind=track.kind,
            source=source,
            owner=owner,
            ssrc=track.ssrc,
            codec=track.codec,
            mid=track.mid,
            audio_level_id=track.audio_level_id,
            send_keyframe_request=transport.send_keyframe_request,
            send_nack=transport.send_nack,
            keyframe_interval=self.settings.keyframe_interval,
            clock=self._clock,
        )
        self.producers[producer_id] = producer
        self._producer_transport[producer_id] = transport
        transport.attach_producer(producer, track)
        if producer.kind == "audio" and self._speaker_task is None:
            self._speaker_task = asyncio.create_task(self._run_speaker_detection())
        for callback in list(self.on_producer_added):
            callback(producer)
        return producer

    def close_producer(self, producer: Producer) -> None:
        if self.producers.pop(producer.id, None) is None:
            return
        transport = self._producer_transport.pop(producer.id, None)
        if transport is not None:
            transport.detach_producer(producer)
        if producer.kind == "audio":
            self.detector.remove(producer.owner)
        producer.close()
        self._totals.add_producer(producer)
        for callback in list(self.on_producer_closed):
            callback(producer)

    # -- consumers -------------------------------------------------------------------

    def create_consumer(
        self,
        producer: Producer,
        transport: WebRtcTransport,
        *,
        consumer_id: str,
        ssrc: int,
        payload_type: int,
        mid: str,
    ) -> Consumer:
        consumer = Consumer(
            consumer_id,
            producer=producer,
            sink=transport,
            ssrc=ssrc,
            payload_type=payload_type,
            mid=mid,
            clock=self._clock,
        )
        self.consumers[consumer_id] = consumer
        self._consumer_transport[consumer_id] = transport
        transport.attach_consumer(consumer)
        if not producer.forwarding:
            consumer.pause()
        # until its connection is up every send would fail: it joins then, and starts
        # at a keyframe asked for then
        transport.when_connected(lambda: self._join_fanout(consumer, producer))
        return consumer

    def _join_fanout(self, consumer: Consumer, producer: Producer) -> None:
        if consumer.closed or producer.closed or consumer.producer is not producer:
            return
        producer.consumers = (*producer.consumers, consumer)
        producer.request_keyframe()

    def add_tap(self, producer: Producer, tap: Forwarder) -> None:
        """An in-process consumer (the recorder's) joins the producer's fan-out: it gets
        the decrypted packets as they are, before any subscriber's rewriting."""
        if not producer.forwarding:
            tap.pause()
        producer.consumers = (*producer.consumers, tap)
        producer.request_keyframe()

    def retire(self, stream: Outgoing) -> None:
        """A stream that ends outside router.consumers (a broadcast viewer's end): its
        counters go into the worker's totals."""
        self._totals.add_outgoing(stream)

    def remove_tap(self, producer: Producer, tap: Forwarder) -> None:
        producer.consumers = tuple(c for c in producer.consumers if c is not tap)

    def set_forwarding(self, producer: Producer, forwarding: bool) -> None:
        """Stop or restart forwarding `producer` to every consumer (enforced muting)."""
        producer.forwarding = forwarding
        for consumer in producer.consumers:
            if forwarding:
                consumer.resume()
            else:
                consumer.pause()

    def switch_consumer(self, consumer: Consumer, producer: Producer) -> None:
        """Point `consumer` at another producer of the same kind (WHEP stage video)."""
        old = consumer.producer
        if old is producer:
            return
        if old is not None:
            old.consumers = tuple(c for c in old.consumers if c is not consumer)
        consumer.switch_producer(producer)
        producer.consumers = (*producer.consumers, consumer)

    def close_consumer(self, consumer: Consumer) -> None:
        if self.consumers.pop(consumer.id, None) is None:
            return
        producer = consumer.producer
        if producer is not None:
            producer.consumers = tuple(c for c in producer.consumers if c is not consumer)
        transport = self._consumer_transport.pop(consumer.id, None)
        if transport is not None:
            transport.detach_consumer(consumer)
        consumer.close()
        self._totals.add_consumer(consumer)

    # -- active speaker --------------------------------------------------------------

    async def _run_speaker_detection(self) -> None:
        while True:
            await asyncio.sleep(SPEAKER_TICK)
            self.detect_speaker()

    def detect_speaker(self) -> str | None:
        now = self._clock()
        for producer in self.producers.values():
            if producer.kind == "audio":
                self.detector.observe(producer.owner, producer.take_audio_level(), now)
        changed = self.detector.tick(now)
        if changed is not None and self.on_active_speaker is not None:
            try:
                self.on_active_speaker(str(changed))
            except Exception:
                logger.exception("active speaker callback")
        return None if changed is None else str(changed)

    @property
    def active_speaker(self) -> str | None:
        current = self.detector.current
        return None if current is None else str(current)

    # -- lifecycle -------------------------------------------------------------------

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._speaker_task is not None:
            self._speaker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._speaker_task
            self._speaker_task = None
        for transport in list(self.transports.values()):
            await transport.close()

    def dump(self) -> dict[str, object]:
        return {
            "id": self.id,
            "transports": [t.dump() for t in self.transports.values()],
            "producers": [p.dump() for p in self.producers.values()],
            "consumers": [c.dump() for c in self.consumers.values()],
            "active_speaker": self.active_speaker,
        }
