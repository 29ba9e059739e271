"""Every host check of a call, in one place.

Who is a host: `require_host`, which the protocol's table (calls/dispatch.py) applies to
every message it marks host-only before its handler runs, and `takes_without_waiting`
for WHIP and WHEP. Whom a host may act on: the rules of `Moderation` (a co-host cannot
mute the host; the host keeps that role and cannot be removed), which then carries the
control out. Over HTTP a host is whoever brings a host token (Calls.is_host and
Calls.hosted_room, which web/http/{links,recordings,watch}.py ask)."""

from __future__ import annotations

from calls.audience import Audience
from calls.membership import Membership
from calls.peer import Peer
from calls.protocol import (
    BroadcastLink,
    CallEnded,
    MutedByHost,
    PeerUpdated,
    ProtocolError,
    Removed,
    RoleChanged,
)
from calls.publishing import Publishing
from calls.roster import Roster
from calls.status import Status


def require_host(actor: Peer, what: str) -> None:
    """Refuse (`forbidden`, in reply to `what`) unless `actor` is a host or co-host."""
    if not actor.is_host:
        raise ProtocolError("forbidden", "only a host can do that", what)


class Moderation:
    """A host's controls over the people of one call. The actor of each was checked to
    be a host (`require_host`); the rules about whom they act on are checked here."""

    def __init__(
        self,
        roster: Roster,
        members: Membership,
        media: Publishing,
        audience: Audience,
        status: Status,
    ) -> None:
        self._roster = roster
        self._members = members
        self._media = media
        self._audience = audience
        self._status = status

    def takes_without_waiting(self, token: str | None, *, operator: bool) -> bool:
        """Whether an HTTP client (WHIP, WHEP) bearing `token` comes in: with the waiting
        room on, only hosts and the operator do (an HTTP request cannot wait)."""
        host = operator or self._members.is_host_token(token)
        return host or not self._members.waiting_room

    def _pick(self, among: dict[str, Peer], peer_id: str, what: str) -> Peer:
        """The peer a host's control names, checked to be there."""
        peer = among.get(peer_id)
        if peer is None:
            where = "waiting" if among is self._roster.waiting else "in this call"
            raise ProtocolError("not_found", f"nobody with that id is {where}", what)
        return peer

    # -- the waiting room ------------------------------------------------------------------

    def admit(self, peer_id: str) -> None:
        self._members.admit(self._pick(self._roster.waiting, peer_id, "admit"))

    def admit_all(self) -> None:
        self._members.admit_everyone()

    def deny(self, peer_id: str) -> None:
        self._members.deny(self._pick(self._roster.waiting, peer_id, "deny"))

    def set_waiting_room(self, enabled: bool) -> None:
        self._members.set_waiting_room(enabled)

    # -- the people in the call --------------------------------------------------------------

    def mute_participant(self, actor: Peer, peer_id: str, source: str, lock: bool) -> None:
        target = self._pick(self._roster.peers, peer_id, "mute_participant")
        if target.role == "host" and actor.role != "host":
            raise ProtocolError("forbidden", "a co-host cannot mute the host", "mute_participant")
        if lock:
            target.locked.add(source)
        self._media.set_muted(target, source, True)
        target.notify(MutedByHost(source=source, locked=lock, by=actor.id))
        self._roster.broadcast(PeerUpdated(peer=target.info()), skip=target)

    def unlock_participant(self, peer_id: str, source: str) -> None:
        target = self._pick(self._roster.peers, peer_id, "unlock_participant")
        target.locked.discard(source)
        self._roster.broadcast(PeerUpdated(peer=target.info()), skip=None)

    def set_role(self, peer_id: str, role: str) -> None:
        target = self._pick(self._roster.peers, peer_id, "set_role")
        if target.role == "host":
            raise ProtocolError("forbidden", "the call's host keeps that role", "set_role")
        # a demoted co-host's token no longer makes anyone a co-host
        self._members.forget_token(target, keep=False)
        target.role = role
        token = self._members.token_for(target)
        target.notify(
            RoleChanged(role=role, host_token=token, invite_link=self._members.invite_link(target))
        )
        if target.is_host:
            target.notify(self._members.waiting_list())
            status = self._status
            if status.watch_link is not None:  # a co-host runs the broadcast too
                target.notify(
                    BroadcastLink(watch_link=status.watch_link, public=status.broadcast_public)
                )
        self._roster.broadcast(PeerUpdated(peer=target.info()), skip=target)

    async def remove_participant(self, actor: Peer, peer_id: str) -> None:
        target = self._pick(self._roster.peers, peer_id, "remove_participant")
        if target is actor or target.role == "host":
            raise ProtocolError("forbidden", "the host cannot be removed", "remove_participant")
        target.notify(Removed(by=actor.id))
        self._members.forget_token(target)  # coming back, they wait at the door
        close = target.close
        await self._members.leave(target)
        if close is not None:
            close()
        # whoever was removed waits at the door if they come back
        if not self._members.waiting_room:
            self._members.waiting_room = True
            self._members.send_waiting_list()

    async def end(self, actor: Peer) -> None:
        """End the call for everyone: every connection closes, the call is over."""
        self._members.ended = True
        self._roster.broadcast(CallEnded(by=actor.id), skip=None)
        for peer in list(self._roster.waiting.values()):
            peer.notify(CallEnded(by=actor.id))
            if peer.close is not None:
                peer.close()
        self._roster.waiting.clear()
        for peer in list(self._roster.peers.values()):
            close = peer.close
            await self._members.leave(peer)
            if close is not None:
                close()
        await self._audience.let_go()
