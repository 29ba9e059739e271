"""Coming in and going out: roles and the tokens that bring people back in them, the
waiting room at the door, and leaving. Whether a host may act here is decided before
(calls/moderation.py, calls/dispatch.py): these methods carry it out."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from calls.peer import Peer, new_id
from calls.protocol import (
    Denied,
    Joined,
    LinkChanged,
    PeerJoined,
    PeerLeft,
    ServerMessage,
    Waiting,
    WaitingList,
    WaitingPerson,
)
from calls.publishing import Publishing
from calls.roster import Roster
from calls.status import Status
from model.access import CallAccess, join_path, token_hash


class Membership:
    """Who comes into a call, in which role, and who waits at its door."""

    def __init__(
        self,
        call_id: str,
        access: CallAccess,
        roster: Roster,
        media: Publishing,
        status: Status,
        *,
        ice_servers: list[dict[str, str]] | None = None,
        on_access_changed: Callable[[], None] | None = None,
    ) -> None:
        self._call_id = call_id
        self.access = access
        self._roster = roster
        self._media = media
        self._status = status
        self.ice_servers: list[dict[str, str]] = ice_servers if ice_servers is not None else []
        # told whenever access settings change, to keep them in the store
        self._access_changed: Callable[[], None] = on_access_changed or (lambda: None)
        self.title = access.title
        # a restarted call's hosts come back with their tokens; a scheduled call's host
        # is its organiser (the host key): in neither case is whoever comes first host
        self.host_assigned = access.scheduled or bool(access.host_tokens)
        self.ended = False  # a host ended the call
        self.entry_listeners: list[Callable[[Peer], None]] = []  # someone came in

    # -- coming in -------------------------------------------------------------------------

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
        role = self.role_for(host_token)
        if role is not None:
            peer.role = role  # back in their role; admitted before, so they skip the wait
        elif not self.host_assigned and send is not None:
            peer.role = "host"
            self.host_assigned = True
        if self.waiting_room and role is None and not peer.is_host and send is not None:
            peer.waiting = True
            self._roster.waiting[peer.id] = peer
            peer.notify(
                Waiting(
                    call=self._call_id,
                    title=self.title,
                    peer_id=peer.id,
                    message="Please wait: a host will let you in.",
                )
            )
            self.send_waiting_list()
            return peer
        self._enter(peer, host_token=host_token)
        return peer

    def role_for(self, token: str | None) -> str | None:
        return self.access.role_for(token)

    def is_host_token(self, token: str | None) -> bool:
        return self.access.is_host_token(token)

    def token_for(self, peer: Peer, *, given: str | None = None) -> str | None:
        """Everyone in the call has a token of their own that brings them back in their
        role while the call lasts, whatever becomes of the invite link meanwhile."""
        if not peer.is_host and peer.send is None:
            return None  # WHIP publishers come back with their bearer token
        if given is not None and self.role_for(given) == peer.role:
            peer.host_token = given
        else:
            peer.host_token = secrets.token_urlsafe(24)
            self.access.host_tokens[token_hash(peer.host_token)] = peer.role
            self._access_changed()
        return peer.host_token

    def forget_token(self, peer: Peer, *, keep: bool = True) -> None:
        """`peer`'s token no longer brings anyone back in their role (`keep`: the peer
        still holds it, as a removed participant does)."""
        if peer.host_token is None:
            return
        self.access.host_tokens.pop(token_hash(peer.host_token), None)
        if not keep:
            peer.host_token = None
        self._access_changed()

    def invite_link(self, peer: Peer) -> str | None:
        """The path of the call's join link, for a host; None for everyone else."""
        return join_path(self.access.link) if peer.is_host else None

    def _enter(self, peer: Peer, *, host_token: str | None = None) -> None:
        peer.waiting = False
        self._roster.came_in(peer)
        self._media.subscribe(peer)
        self._roster.broadcast(PeerJoined(peer=peer.info()), skip=None)
        self._roster.peers[peer.id] = peer
        token = self.token_for(peer, given=host_token)
        status = self._status
        peer.notify(
            Joined(
                call=self._call_id,
                peer_id=peer.id,
                peers=self._roster.others(peer),
                ice_servers=self.ice_servers,
                active_speaker=self._media.router.active_speaker,
                role=peer.role,
                host_token=token,
                waiting_room=self.waiting_room,
                title=self.title,
                invite_link=self.invite_link(peer),
                recording=status.recording,
                broadcasting=status.broadcasting,
                broadcast_public=status.broadcast_public,
                watch_link=status.watch_link if peer.is_host else None,
            )
        )
        for listener in list(self.entry_listeners):
            listener(peer)
        if peer.is_host:
            peer.notify(self.waiting_list())

    def link_changed(self) -> None:
        """Tell the hosts present the join link now in force (None: revoked)."""
        self._roster.tell_hosts(LinkChanged(invite_link=join_path(self.access.link)))

    # -- the waiting room ------------------------------------------------------------------

    @property
    def waiting_room(self) -> bool:
        return self.access.waiting_room

    @waiting_room.setter
    def waiting_room(self, enabled: bool) -> None:
        if enabled != self.access.waiting_room:
            self.access.waiting_room = enabled
            self._access_changed()

    def waiting_list(self) -> WaitingList:
        return WaitingList(
            enabled=self.waiting_room,
            waiting=[
                WaitingPerson(peer_id=p.id, name=p.name) for p in self._roster.waiting.values()
            ],
        )

    def send_waiting_list(self) -> None:
        self._roster.tell_hosts(self.waiting_list())

    def admit(self, peer: Peer) -> None:
        del self._roster.waiting[peer.id]
        self._enter(peer)
        self.send_waiting_list()

    def admit_everyone(self) -> None:
        roster = self._roster
        waiting, roster.waiting = list(roster.waiting.values()), {}
        for peer in waiting:
            self._enter(peer)
        self.send_waiting_list()

    def deny(self, peer: Peer) -> None:
        del self._roster.waiting[peer.id]
        peer.notify(Denied(message="The host did not let you in."))
        peer.left = True
        if peer.close is not None:
            peer.close()
        self.send_waiting_list()

    def set_waiting_room(self, enabled: bool) -> None:
        self.waiting_room = enabled
        if not enabled:
            self.admit_everyone()
        else:
            self.send_waiting_list()

    # -- going out -------------------------------------------------------------------------

    async def leave(self, peer: Peer) -> None:
        if peer.left:
            return
        peer.left = True
        if self._roster.waiting.pop(peer.id, None) is not None:
            self.send_waiting_list()
            return
        self._roster.peers.pop(peer.id, None)
        await self._media.drop(peer)
        self._roster.broadcast(PeerLeft(peer_id=peer.id), skip=None)
