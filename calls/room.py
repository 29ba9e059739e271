"""Room: one call's participants, waiting room and viewers around one SFU router.

The service layer between the WebSocket/WHIP/WHEP handlers and the SFU: handlers
parse and authenticate, this module applies the rules and emits the events.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from calls.peer import Peer, PublishedSource, new_id, resolve_sources
from calls.protocol import (
    ActiveSpeaker,
    BroadcastLink,
    CallEnded,
    Denied,
    Joined,
    LinkChanged,
    MutedByHost,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    PeerUpdated,
    ProtocolError,
    PublishedTrack,
    Removed,
    RoleChanged,
    ServerMessage,
    Waiting,
    WaitingList,
    WaitingPerson,
)
from calls.subscriber import SubscribeSession
from calls.viewers import Viewer, new_stage, open_viewer, stage_audio, stage_video
from metrics.events import Metrics
from model.access import CallAccess, join_path, token_hash
from sfu.broadcast import Stage
from sfu.producer import Producer
from sfu.router import Router
from sfu.sdp import IncomingTrack, SdpError, incoming_tracks
from sfu.transport import WebRtcTransport

STAGE_TICK = 1.0
logger = logging.getLogger(__name__)


class Room:
    """One call's participants and viewers around one SFU router."""

    def __init__(
        self,
        call_id: str,
        router: Router,
        metrics: Metrics,
        access: CallAccess | None = None,
        *,
        answer_timeout: float = 20.0,
    ) -> None:
        self.id = call_id
        self.access = access or CallAccess(title=call_id, waiting_room=False, link=None)
        self.answer_timeout = answer_timeout
        self.router = router
        self.metrics = metrics
        self.peers: dict[str, Peer] = {}
        self.viewers: dict[str, Viewer] = {}
        self.stage: Stage | None = None  # made for the first viewer
        self.mix: Producer | None = None  # a broadcast's mixed audio
        self._stage_ticker: asyncio.Task[None] | None = None
        self.on_viewer_gone: Callable[[Viewer], None] | None = None
        # a restarted call's hosts come back with their tokens; a scheduled call's host
        # is its organiser (the host key): in neither case is whoever comes first host
        self.host_assigned = self.access.scheduled or bool(self.access.host_tokens)
        self.ended = False
        self.ice_servers: list[dict[str, str]] = []
        self.title = self.access.title
        self.recording = False  # a host is recording the call
        self.broadcasting = False  # a host is broadcasting it
        self.broadcast_public = False
        self.watch_link: str | None = None  # the broadcast's, for hosts
        self.speaker_listeners: list[Callable[[str], None]] = []
        self.entry_listeners: list[Callable[[Peer], None]] = []  # someone came in
        # told whenever access settings change, to keep them in the store
        self.on_access_changed: Callable[[], None] = lambda: None
        self.started_at: datetime | None = None  # when the first participant came in
        self.participants: dict[str, str] = {}  # everyone who came in: peer id -> name
        self.user_ids: list[str] = []  # the accounts that came in, in order
        self.waiting: dict[str, Peer] = {}  # in order of arrival
        router.on_active_speaker = self._on_active_speaker
        router.on_producer_closed.append(self._on_producer_closed)

    # -- membership ----------------------------------------------------------------

    def join(
        self,
        name: str,
        send: Callable[[ServerMessage], None] | None,
        *,
        on_stuck: Callable[[], None] | None = None,
        host_token: str | None = None,
        user_id: str | None = None,
    ) -> Peer:
        """A participant arrives. The creator becomes host; a host token brings a host
        back; with the waiting room on, everyone else waits for a host to admit them.
        `on_stuck` ends their session (when their client stops answering, or a host
        removes them). The participant is sent `joined` or `waiting`."""
        peer = Peer(id=new_id("p"), name=name, send=send, close=on_stuck, user_id=user_id)
        role = self._role_for(host_token)
        if role is not None:
            peer.role = role  # back in their role; admitted before, so they skip the wait
        elif not self.host_assigned and send is not None:
            peer.role = "host"
            self.host_assigned = True
        if self.waiting_room and role is None and not peer.is_host and send is not None:
            peer.waiting = True
            self.waiting[peer.id] = peer
            peer.notify(
                Waiting(
                    call=self.id,
                    title=self.title,
                    peer_id=peer.id,
                    message="Please wait: a host will let you in.",
                )
            )
            self._send_waiting_list()
            return peer
        self._enter(peer, host_token=host_token)
        return peer

    @property
    def waiting_room(self) -> bool:
        return self.access.waiting_room

    @waiting_room.setter
    def waiting_room(self, enabled: bool) -> None:
        if enabled != self.access.waiting_room:
            self.access.waiting_room = enabled
            self.on_access_changed()

    def _role_for(self, token: str | None) -> str | None:
        return self.access.role_for(token)

    def is_host_token(self, token: str | None) -> bool:
        return self.access.is_host_token(token)

    def _token_for(self, peer: Peer, *, given: str | None = None) -> str | None:
        """Everyone in the call has a token of their own that brings them back in their
        role while the call lasts, whatever becomes of the invite link meanwhile."""
        if not peer.is_host and peer.send is None:
            return None  # WHIP publishers come back with their bearer token
        if given is not None and self._role_for(given) == peer.role:
            peer.host_token = given
        else:
            peer.host_token = secrets.token_urlsafe(24)
            self.access.host_tokens[token_hash(peer.host_token)] = peer.role
            self.on_access_changed()
        return peer.host_token

    def _enter(self, peer: Peer, *, host_token: str | None = None) -> None:
        peer.waiting = False
        if self.started_at is None:
            self.started_at = datetime.now(UTC)
        self.participants[peer.id] = peer.name
        if peer.user_id is not None and peer.user_id not in self.user_ids:
            self.user_ids.append(peer.user_id)
        if peer.send is not None:
            peer.subscriber = SubscribeSession(
                peer.id,
                self.router,
                peer.send,
                answer_timeout=self.answer_timeout,
                on_stuck=peer.close,
            )
            peer.subscriber.on_transport = lambda t: self._watch_first_media(peer, t)
            for producer in self.router.producers.values():
                peer.subscriber.add(producer)
        self.broadcast(PeerJoined(peer=peer.info()), skip=None)
        self.peers[peer.id] = peer
        token = self._token_for(peer, given=host_token)
        peer.notify(
            Joined(
                call=self.id,
                peer_id=peer.id,
                peers=self.others(peer),
                ice_servers=self.ice_servers,
                active_speaker=self.router.active_speaker,
                role=peer.role,
                host_token=token,
                waiting_room=self.waiting_room,
                title=self.title,
                invite_link=join_path(self.access.link) if peer.is_host else None,
                recording=self.recording,
                broadcasting=self.broadcasting,
                broadcast_public=self.broadcast_public,
                watch_link=self.watch_link if peer.is_host else None,
            )
        )
        for listener in list(self.entry_listeners):
            listener(peer)
        if peer.is_host:
            peer.notify(self._waiting_list())

    # -- waiting room -------------------------------------------------------------------

    def _waiting_list(self) -> WaitingList:
        return WaitingList(
            enabled=self.waiting_room,
            waiting=[WaitingPerson(peer_id=p.id, name=p.name) for p in self.waiting.values()],
        )

    def _send_waiting_list(self) -> None:
        message = self._waiting_list()
        for peer in self.peers.values():
            if peer.is_host:
                peer.notify(message)

    def link_changed(self) -> None:
        """Tell the hosts present the join link now in force (None: revoked)."""
        message = LinkChanged(invite_link=join_path(self.access.link))
        for peer in self.peers.values():
            if peer.is_host:
                peer.notify(message)

    def require_host(self, actor: Peer, what: str) -> None:
        if not actor.is_host:
            raise ProtocolError("forbidden", "only a host can do that", what)

    def _host_picks(self, actor: Peer, among: dict[str, Peer], peer_id: str, what: str) -> Peer:
        """The peer a host's control names, checked: the actor is a host, the peer is there."""
        self.require_host(actor, what)
        peer = among.get(peer_id)
        if peer is None:
            where = "waiting" if among is self.waiting else "in this call"
            raise ProtocolError("not_found", f"nobody with that id is {where}", what)
        return peer

    def _waiting_one(self, actor: Peer, peer_id: str, what: str) -> Peer:
        return self._host_picks(actor, self.waiting, peer_id, what)

    def admit(self, actor: Peer, peer_id: str) -> None:
        peer = self._waiting_one(actor, peer_id, "admit")
        del self.waiting[peer.id]
        self._enter(peer)
        self._send_waiting_list()

    def admit_all(self, actor: Peer) -> None:
        self.require_host(actor, "admit_all")
        self._admit_everyone()

    def _admit_everyone(self) -> None:
        waiting, self.waiting = list(self.waiting.values()), {}
        for peer in waiting:
            self._enter(peer)
        self._send_waiting_list()

    def deny(self, actor: Peer, peer_id: str) -> None:
        peer = self._waiting_one(actor, peer_id, "deny")
        del self.waiting[peer.id]
        peer.notify(Denied(message="The host did not let you in."))
        peer.left = True
        if peer.close is not None:
            peer.close()
        self._send_waiting_list()

    def set_waiting_room(self, actor: Peer, enabled: bool) -> None:
        self.require_host(actor, "set_waiting_room")
        self.waiting_room = enabled
        if not enabled:
            self._admit_everyone()
        else:
            self._send_waiting_list()

    def others(self, peer: Peer) -> list[PeerInfo]:
        return [p.info() for p in self.peers.values() if p is not peer]

    async def leave(self, peer: Peer) -> None:
        if peer.left:
            return
        peer.left = True
        if self.waiting.pop(peer.id, None) is not None:
            self._send_waiting_list()
            return
        self.peers.pop(peer.id, None)
        if peer.subscriber is not None:
            await peer.subscriber.close()
        if peer.publish_transport is not None:
            await peer.publish_transport.close()
        for source in list(peer.sources.values()):
            self.router.close_producer(source.producer)
        peer.sources.clear()
        self.broadcast(PeerLeft(peer_id=peer.id), skip=None)

    @property
    def empty(self) -> bool:
        return not self.peers and not self.viewers and not self.waiting

    # -- publishing ------------------------------------------------------------------

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
                self._watch_first_media(peer, transport)
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
            for other in self.peers.values():
                if other is not peer and other.subscriber is not None:
                    other.subscriber.add(producer)
            self.update_stage()
        if changed:
            self.broadcast(PeerUpdated(peer=peer.info()), skip=peer)

    def mute(self, peer: Peer, source: str, muted: bool) -> None:
        """The participant muted or unmuted one of their own sources. A muted source is
        not forwarded at all; a source a host locked cannot be unmuted."""
        if not muted and source in peer.locked:
            raise ProtocolError("locked", f"a host has turned your {source} off", "mute")
        self._set_muted(peer, source, muted)
        self.broadcast(PeerUpdated(peer=peer.info()), skip=peer)

    def _set_muted(self, peer: Peer, source: str, muted: bool) -> None:
        if muted:
            peer.muted_sources.add(source)
        else:
            peer.muted_sources.discard(source)
        for published in peer.sources.values():
            if published.source == source:
                published.muted = published.producer.muted = muted
                if published.producer.forwarding == muted:
                    self.router.set_forwarding(published.producer, not muted)

    # -- host controls (the server enforces every rule) -------------------------------

    def _target(self, actor: Peer, peer_id: str, what: str) -> Peer:
        return self._host_picks(actor, self.peers, peer_id, what)

    def mute_participant(self, actor: Peer, peer_id: str, source: str, lock: bool) -> None:
        target = self._target(actor, peer_id, "mute_participant")
        if target.role == "host" and actor.role != "host":
            raise ProtocolError("forbidden", "a co-host cannot mute the host", "mute_participant")
        if lock:
            target.locked.add(source)
        self._set_muted(target, source, True)
        target.notify(MutedByHost(source=source, locked=lock, by=actor.id))
        self.broadcast(PeerUpdated(peer=target.info()), skip=target)

    def unlock_participant(self, actor: Peer, peer_id: str, source: str) -> None:
        target = self._target(actor, peer_id, "unlock_participant")
        target.locked.discard(source)
        self.broadcast(PeerUpdated(peer=target.info()), skip=None)

    def set_role(self, actor: Peer, peer_id: str, role: str) -> None:
        target = self._target(actor, peer_id, "set_role")
        if target.role == "host":
            raise ProtocolError("forbidden", "the call's host keeps that role", "set_role")
        if target.host_token is not None:
            # a demoted co-host's token no longer makes anyone a co-host
            self.access.host_tokens.pop(token_hash(target.host_token), None)
            target.host_token = None
            self.on_access_changed()
        target.role = role
        token = self._token_for(target)
        target.notify(
            RoleChanged(
                role=role,
                host_token=token,
                invite_link=join_path(self.access.link) if target.is_host else None,
            )
        )
        if target.is_host:
            target.notify(self._waiting_list())
            if self.watch_link is not None:  # a co-host runs the broadcast too
                target.notify(
                    BroadcastLink(watch_link=self.watch_link, public=self.broadcast_public)
                )
        self.broadcast(PeerUpdated(peer=target.info()), skip=target)

    async def remove_participant(self, actor: Peer, peer_id: str) -> None:
        target = self._target(actor, peer_id, "remove_participant")
        if target is actor or target.role == "host":
            raise ProtocolError("forbidden", "the host cannot be removed", "remove_participant")
        target.notify(Removed(by=actor.id))
        if target.host_token is not None:  # coming back, they wait at the door
            self.access.host_tokens.pop(token_hash(target.host_token), None)
            self.on_access_changed()
        close = target.close
        await self.leave(target)
        if close is not None:
            close()
        # whoever was removed waits at the door if they come back
        if not self.waiting_room:
            self.waiting_room = True
            self._send_waiting_list()

    async def end(self, actor: Peer) -> None:
        """End the call for everyone: every connection closes, the call is over."""
        if not actor.is_host:
            raise ProtocolError("forbidden", "only a host can end the call", "end_call")
        self.ended = True
        self.broadcast(CallEnded(by=actor.id), skip=None)
        for peer in list(self.waiting.values()):
            peer.notify(CallEnded(by=actor.id))
            if peer.close is not None:
                peer.close()
        self.waiting.clear()
        for peer in list(self.peers.values()):
            close = peer.close
            await self.leave(peer)
            if close is not None:
                close()
        for viewer in list(self.viewers.values()):
            await viewer.close()

    def _on_producer_closed(self, producer: Producer) -> None:
        for peer in self.peers.values():
            if peer.subscriber is not None:
                peer.subscriber.remove(producer.id)
        owner = self.peers.get(producer.owner)
        if owner is not None:
            for mid, published in list(owner.sources.items()):
                if published.producer is producer:
                    del owner.sources[mid]
                    self.broadcast(PeerUpdated(peer=owner.info()), skip=owner)
        self.update_stage()

    # -- events ----------------------------------------------------------------------

    def broadcast(self, message: ServerMessage, *, skip: Peer | None) -> None:
        for peer in self.peers.values():
            if peer is not skip:
                peer.notify(message)

    def _on_active_speaker(self, peer_id: str) -> None:
        self.broadcast(ActiveSpeaker(peer_id=peer_id), skip=None)
        for listener in list(self.speaker_listeners):
            listener(peer_id)
        self.update_stage()

    def _watch_first_media(self, peer: Peer, transport: WebRtcTransport) -> None:
        def first_media() -> None:
            if not peer.first_media_seen:
                peer.first_media_seen = True
                self.metrics.join_to_first_media.observe(time.monotonic() - peer.joined_at)

        transport.on_first_media = first_media

    # -- viewers ---------------------------------------------------------------------

    def update_stage(self) -> None:
        """Point the viewers' stage at what they should see and hear now."""
        stage = self.stage
        if stage is None:
            return
        video, audio = stage.tracks["video"], stage.tracks["audio"]
        stage.follow("video", stage_video(self.router, video.producer))
        stage.follow("audio", stage_audio(self.router, audio.producer, self.mix))

    def _ensure_stage(self) -> Stage:
        if self.stage is None:
            self.stage = new_stage(f"{self.id}-stage", self.router)
            self.update_stage()
            self._stage_ticker = asyncio.create_task(self._tick_stage())
        return self.stage

    async def _tick_stage(self) -> None:
        """Cut viewers that cannot keep up, by the stage's written policy."""
        while self.stage is not None:
            await asyncio.sleep(STAGE_TICK)
            for seat, reason in self.stage.tick():
                viewer = self.viewers.get(seat.id)
                if viewer is not None:
                    logger.info("viewer %s of %s cut: %s", seat.id, self.id, reason)
                    self.metrics.viewer_drops.labels(reason).inc()
                    await viewer.close()

    def set_mix(self, mix: Producer | None) -> None:
        """The broadcast's mixed audio (or None): what viewers hear."""
        self.mix = mix
        self.update_stage()

    async def add_viewer(
        self, offer: str, broadcast_id: str | None = None, *, feeds_edge: bool = False
    ) -> tuple[Viewer, str]:
        return await open_viewer(
            self._ensure_stage(),
            offer,
            self.viewers,
            self._viewer_closed,
            broadcast_id,
            feeds_edge=feeds_edge,
        )

    def _viewer_closed(self, viewer: Viewer) -> None:
        self.viewers.pop(viewer.id, None)
        if self.on_viewer_gone is not None:
            self.on_viewer_gone(viewer)

    async def close(self) -> None:
        for peer in list(self.peers.values()):
            await self.leave(peer)
        for viewer in list(self.viewers.values()):
            await viewer.close()
        self.viewers.clear()
        if self.stage is not None:
            self.stage.close()
            self.stage = None
        if self._stage_ticker is not None:
            self._stage_ticker.cancel()
            self._stage_ticker = None
