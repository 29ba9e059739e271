"""SubscribeSession: the server-offered connection that carries others' tracks to a peer.

Only the server offers on this connection. At most one offer is in flight; changes
that arrive meanwhile (tracks added or ended) are folded into the next offer once the
answer is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCRtpTransceiver

from calls.protocol import Error, ProtocolError, ServerMessage, SubscribedTrack, SubscribeOffer
from sfu.consumer import Consumer
from sfu.producer import Producer
from sfu.router import Router
from sfu.sdp import SdpError
from sfu.transport import WebRtcTransport

logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    producer: Producer
    transceiver: RTCRtpTransceiver | None = None
    consumer: Consumer | None = None
    rejected: bool = False


class SubscribeSession:
    """Keeps one peer's subscribe m-lines in step with the room's producers."""

    def __init__(
        self,
        peer_id: str,
        router: Router,
        send: Callable[[ServerMessage], None],
        *,
        answer_timeout: float = 20.0,
        on_stuck: Callable[[], None] | None = None,
    ) -> None:
        self.peer_id = peer_id
        self.answer_timeout = answer_timeout
        self.on_stuck = on_stuck
        self.transport: WebRtcTransport | None = None
        self.closed = False
        self.on_transport: Callable[[WebRtcTransport], None] | None = None
        self._router = router
        self._send = send
        self._entries: dict[str, _Entry] = {}
        self._dirty = False
        self._offer_in_flight = False
        self._task: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def consumers(self) -> list[Consumer]:
        return [e.consumer for e in self._entries.values() if e.consumer is not None]

    def add(self, producer: Producer) -> None:
        if producer.owner == self.peer_id or producer.id in self._entries or self.closed:
            return
        self._entries[producer.id] = _Entry(producer)
        self._schedule()

    def remove(self, producer_id: str) -> None:
        entry = self._entries.pop(producer_id, None)
        if entry is None:
            return
        if entry.consumer is not None:
            self._router.close_consumer(entry.consumer)
        if entry.transceiver is not None:
            entry.transceiver.direction = "inactive"
            self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if not self._offer_in_flight and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._offer())

    def _ensure_transport(self) -> WebRtcTransport:
        if self.transport is None:
            self.transport = self._router.create_transport(
                f"{self.peer_id}-sub-{secrets.token_hex(3)}", cname=self.peer_id
            )
            self.transport.when_connected(self._on_connected)
            if self.on_transport is not None:
                self.on_transport(self.transport)
        return self.transport

    def _on_connected(self) -> None:
        # keyframe requests sent before DTLS was up produced frames nobody got
        for consumer in self.consumers:
            consumer.request_keyframe()

    async def _offer(self) -> None:
        if self._offer_in_flight or self.closed:
            return
        self._dirty = False
        transport = self._ensure_transport()
        if transport.closed:
            return
        for entry in self._entries.values():
            if entry.transceiver is None:
                producer = entry.producer
                entry.transceiver = transport.add_outgoing(
                    producer.kind,
                    stream_id=producer.owner,
                    track_id=producer.id,
                    codec=producer.codec,
                )
        if not transport.pc.getTransceivers():
            return
        try:
            offer = await transport.create_offer()
        except Exception:
            logger.exception("subscribe offer for %s", self.peer_id)
            return
        tracks = [
            SubscribedTrack(
                mid=str(e.transceiver.mid),
                track_id=e.producer.id,
                peer_id=e.producer.owner,
                kind=e.producer.kind,
                source=e.producer.source,
            )
            for e in self._entries.values()
            if e.transceiver is not None and not e.rejected
        ]
        self._offer_in_flight = True
        self._send(SubscribeOffer(sdp=offer, tracks=tracks))
        self._deadline = asyncio.get_running_loop().call_later(
            self.answer_timeout, self._answer_overdue
        )

    def _answer_overdue(self) -> None:
        """The client never answered: its subscribe connection cannot be repaired in
        place (aiortc has no rollback), so the session ends and the client rejoins."""
        self._deadline = None
        if self.closed or not self._offer_in_flight:
            return
        logger.info(
            "peer %s did not answer a subscribe offer in %.0f s", self.peer_id, self.answer_timeout
        )
        self._send(
            Error(
                code="subscribe_timeout",
                message="no answer to the subscribe offer; please rejoin",
                in_reply_to=None,
            )
        )
        if self.on_stuck is not None:
            self.on_stuck()

    async def on_answer(self, answer: str) -> None:
        if not self._offer_in_flight or self.transport is None:
            raise ProtocolError("out_of_order", "no subscribe offer is pending", "subscribe_answer")
        transport = self.transport
        try:
            accepted = await transport.accept_answer(answer)
        except SdpError as exc:
            # the offer stays pending: the client may send a corrected answer
            raise ProtocolError("bad_sdp", str(exc), "subscribe_answer") from exc
        self._offer_in_flight = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        for entry in list(self._entries.values()):
            if entry.consumer is not None or entry.transceiver is None or entry.rejected:
                continue
            media = accepted.get(str(entry.transceiver.mid))
            codec = None
            if media is not None and media.receiving:
                codec = next((c for c in media.codecs if entry.producer.codec.matches(c)), None)
            if codec is None or entry.producer.closed:
                entry.rejected = True
                continue
            entry.consumer = self._router.create_consumer(
                entry.producer,
                transport,
                consumer_id=f"{self.peer_id}-{entry.producer.id}",
                ssrc=transport.sender_ssrc(entry.transceiver),
                payload_type=codec.payload_type,
                mid=str(entry.transceiver.mid),
            )
        if self._dirty:
            self._schedule()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.transport is not None:
            await self.transport.close()
