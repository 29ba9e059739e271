"""What participants send and receive: publishing (offers, tracks, their sources), mutes,
and each participant's subscription to everyone else's tracks."""

from __future__ import annotations

import secrets
import time

from calls.audience import Audience
from calls.peer import Peer, PublishedSource, new_id, resolve_sources
from calls.protocol import PeerUpdated, ProtocolError, PublishedTrack
from calls.roster import Roster
from calls.subscriber import SubscribeSession
from metrics.events import Metrics
from sfu.producer import Producer
from sfu.router import Router
from sfu.sdp import IncomingTrack, SdpError, incoming_tracks
from sfu.transport import WebRtcTransport


class Publishing:
    """The media side of a call's participants, around its SFU router."""

    def __init__(
        self,
        router: Router,
        metrics: Metrics,
        roster: Roster,
        audience: Audience,
        *,
        answer_timeout: float = 20.0,
    ) -> None:
        self.router = router
        self._metrics = metrics
        self._roster = roster
        self._audience = audience
        self.answer_timeout = answer_timeout
        router.on_producer_closed.append(self._on_producer_closed)

    def subscribe(self, peer: Peer) -> None:
        """A participant with a socket comes in: they receive everyone's tracks."""
        if peer.send is None:
            return
        peer.subscriber = SubscribeSession(
            peer.id,
            self.router,
            peer.send,
            answer_timeout=self.answer_timeout,
            on_stuck=peer.close,
        )
        peer.subscriber.on_transport = lambda t: self.watch_first_media(peer, t)
        for producer in self.router.producers.values():
            peer.subscriber.add(producer)

    async def publish(self, peer: Peer, offer: str, tracks: tuple[PublishedTrack, ...]) -> str:
        """Apply a publish offer; returns the answer. Raises ProtocolError."""
        if peer.publish_in_flight:
            raise ProtocolError("out_of_order", "a publish is already in progress", "publish")
        peer.publish_in_flight = True
        try:
            transport = peer.publish_transport
            if transport is None or transport.closed:
                transport = self.router.create_transport(
                    f"{peer.id}-pub-{secrets.token_hex(3)}", cname=peer.id
                )
                peer.publish_transport = transport
                self.watch_first_media(peer, transport)
            try:
                answer = await transport.accept_offer(offer)
                incoming = incoming_tracks(offer, answer)
            except SdpError as exc:
                raise ProtocolError("bad_sdp", str(exc), "publish") from exc
            self._apply_tracks(peer, transport, incoming, tracks)
            return answer
        finally:
            peer.publish_in_flight = False

    def _apply_tracks(
        self,
        peer: Peer,
        transport: WebRtcTransport,
        incoming: list[IncomingTrack],
        listed: tuple[PublishedTrack, ...],
    ) -> None:
        sources = resolve_sources(incoming, listed)
        wanted = {t.mid: t for t in incoming}
        changed = False
        # tracks that stopped sending, or whose stream changed, end
        for mid, published in list(peer.sources.items()):
            old = wanted.get(mid)
            if old is None or (old.ssrc is not None and old.ssrc != published.producer.ssrc):
                del peer.sources[mid]
                self.router.close_producer(published.producer)
                changed = True
        for track in incoming:
            source = sources[track.mid]
            existing = peer.sources.get(track.mid)
            if existing is not None:
                if existing.source != source:
                    existing.source = existing.producer.source = source
                    changed = True
                continue
            producer = self.router.create_producer(
                transport, track, producer_id=new_id("t"), source=source, owner=peer.id
            )
            published = PublishedSource(producer=producer, source=source)
            published.muted = producer.muted = source in peer.muted_sources
            if published.muted:
                self.router.set_forwarding(producer, False)
            peer.sources[track.mid] = published
            changed = True
            for other in self._roster.peers.values():
                if other is not peer and other.subscriber is not None:
                    other.subscriber.add(producer)
            self._audience.update_stage()
        if changed:
            self._roster.broadcast(PeerUpdated(peer=peer.info()), skip=peer)

    def mute(self, peer: Peer, source: str, muted: bool) -> None:
        """The participant muted or unmuted one of their own sources. A muted source is
        not forwarded at all; a source a host locked cannot be unmuted."""
        if not muted and source in peer.locked:
            raise ProtocolError("locked", f"a host has turned your {source} off", "mute")
        self.set_muted(peer, source, muted)
        self._roster.broadcast(PeerUpdated(peer=peer.info()), skip=peer)

    def set_muted(self, peer: Peer, source: str, muted: bool) -> None:
        """Forward `peer`'s `source` or not (by its owner's wish or a host's)."""
        if muted:
            peer.muted_sources.add(source)
        else:
            peer.muted_sources.discard(source)
        for published in peer.sources.values():
            if published.source == source:
                published.muted = published.producer.muted = muted
                if published.producer.forwarding == muted:
                    self.router.set_forwarding(published.producer, not muted)

    async def drop(self, peer: Peer) -> None:
        """A participant left: their connections close and their tracks end."""
        if peer.subscriber is not None:
            await peer.subscriber.close()
        if peer.publish_transport is not None:
            await peer.publish_transport.close()
        for source in list(peer.sources.values()):
            self.router.close_producer(source.producer)
        peer.sources.clear()

    def _on_producer_closed(self, producer: Producer) -> None:
        for peer in self._roster.peers.values():
            if peer.subscriber is not None:
                peer.subscriber.remove(producer.id)
        owner = self._roster.peers.get(producer.owner)
        if owner is not None:
            for mid, published in list(owner.sources.items()):
                if published.producer is producer:
                    del owner.sources[mid]
                    self._roster.broadcast(PeerUpdated(peer=owner.info()), skip=owner)
        self._audience.update_stage()

    def watch_first_media(self, peer: Peer, transport: WebRtcTransport) -> None:
        def first_media() -> None:
            if not peer.first_media_seen:
                peer.first_media_seen = True
                self._metrics.join_to_first_media.observe(time.monotonic() - peer.joined_at)

        transport.on_first_media = first_media
