"""Room: one call around one SFU router, composed of its concerns.

The service layer between the WebSocket/WHIP/WHEP handlers and the SFU: handlers parse
and authenticate, the room's parts apply the rules and emit the events.

- `roster` (calls/roster.py): who is in, who waits, who ever came in; telling them;
- `members` (calls/membership.py): joining, roles and tokens, the waiting room, leaving;
- `moderation` (calls/moderation.py): every host check and the hosts' controls;
- `media` (calls/publishing.py): publishing, mutes, subscriptions;
- `audience` (calls/audience.py): the stage and its WHEP viewers;
- `status` (calls/status.py): recording and broadcasting, as everyone is told.
"""

from __future__ import annotations

from collections.abc import Callable

from calls.audience import Audience
from calls.membership import Membership
from calls.moderation import Moderation
from calls.peer import Peer
from calls.protocol import ActiveSpeaker, PublishedTrack, ServerMessage
from calls.publishing import Publishing
from calls.roster import Roster
from calls.status import Status
from calls.viewers import Viewer
from metrics.events import Metrics
from model.access import CallAccess
from sfu.producer import Producer
from sfu.router import Router


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
        ice_servers: list[dict[str, str]] | None = None,
        on_access_changed: Callable[[], None] | None = None,
    ) -> None:
        self.id = call_id
        self.access = access or CallAccess(title=call_id, waiting_room=False, link=None)
        self.router = router
        self.metrics = metrics
        self.roster = Roster()
        self.status = Status(self.roster)
        self.audience = Audience(call_id, router, metrics)
        self.media = Publishing(
            router, metrics, self.roster, self.audience, answer_timeout=answer_timeout
        )
        self.members = Membership(
            call_id,
            self.access,
            self.roster,
            self.media,
            self.status,
            ice_servers=ice_servers,
            on_access_changed=on_access_changed,
        )
        self.moderation = Moderation(
            self.roster, self.members, self.media, self.audience, self.status
        )
        # told of every new active speaker (a recording's or broadcast's layout)
        self.speaker_listeners: list[Callable[[str], None]] = []
        router.on_active_speaker = self._on_active_speaker

    # -- what most callers want --------------------------------------------------------------

    @property
    def peers(self) -> dict[str, Peer]:
        return self.roster.peers

    @property
    def waiting(self) -> dict[str, Peer]:
        return self.roster.waiting

    @property
    def viewers(self) -> dict[str, Viewer]:
        return self.audience.viewers

    @property
    def title(self) -> str:
        return self.members.title

    @property
    def ended(self) -> bool:
        """A host ended the call."""
        return self.members.ended

    @property
    def empty(self) -> bool:
        return not self.peers and not self.viewers and not self.waiting

    def join(
        self,
        name: str,
        send: Callable[[ServerMessage], None] | None,
        *,
        on_stuck: Callable[[], None] | None = None,
        host_token: str | None = None,
        user_id: str | None = None,
    ) -> Peer:
        """See Membership.join."""
        return self.members.join(
            name, send, on_stuck=on_stuck, host_token=host_token, user_id=user_id
        )

    async def leave(self, peer: Peer) -> None:
        await self.members.leave(peer)

    async def publish(self, peer: Peer, offer: str, tracks: tuple[PublishedTrack, ...]) -> str:
        """See Publishing.publish."""
        return await self.media.publish(peer, offer, tracks)

    async def end(self, actor: Peer) -> None:
        """A host ends the call (see Moderation.end)."""
        await self.moderation.end(actor)

    async def add_viewer(
        self, offer: str, broadcast_id: str | None = None, *, feeds_edge: bool = False
    ) -> tuple[Viewer, str]:
        return await self.audience.add_viewer(offer, broadcast_id, feeds_edge=feeds_edge)

    # -- what the recording and the broadcast tell the call ------------------------------------

    def set_mix(self, mix: Producer | None) -> None:
        """The broadcast's mixed audio (or None): what viewers hear."""
        self.audience.set_mix(mix)

    def broadcast_started(
        self,
        by: str | None,
        *,
        public: bool,
        watch_link: str,
        on_viewer_gone: Callable[[Viewer], None],
    ) -> None:
        """The call is on air: everyone is told, hosts get the watch link."""
        self.audience.on_viewer_gone = on_viewer_gone
        self.status.broadcast_started(by, public=public, watch_link=watch_link)

    def broadcast_stopped(self, by: str | None, *, public: bool) -> None:
        """Off air: viewers hear the speaker again; everyone is told."""
        self.audience.set_mix(None)
        self.audience.on_viewer_gone = None
        self.status.broadcast_stopped(by, public=public)

    # -- events ------------------------------------------------------------------------------

    def _on_active_speaker(self, peer_id: str) -> None:
        self.roster.broadcast(ActiveSpeaker(peer_id=peer_id), skip=None)
        for listener in list(self.speaker_listeners):
            listener(peer_id)
        self.audience.update_stage()

    async def close(self) -> None:
        for peer in list(self.peers.values()):
            await self.members.leave(peer)
        await self.audience.close()
