"""The people of a call: who is in, who waits at the door, who ever came in; and telling
them things."""

from __future__ import annotations

from datetime import UTC, datetime

from calls.peer import Peer
from calls.protocol import PeerInfo, ServerMessage


class Roster:
    """The call's participants and the people waiting to be let in, with its history:
    when the first participant came in and who ever did (the call's record)."""

    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}
        self.waiting: dict[str, Peer] = {}  # in order of arrival
        self.started_at: datetime | None = None  # when the first participant came in
        self.participants: dict[str, str] = {}  # everyone who came in: peer id -> name
        self.user_ids: list[str] = []  # the accounts that came in, in order

    def came_in(self, peer: Peer) -> None:
        """`peer` is in the call now (not waiting): they are part of its history."""
        if self.started_at is None:
            self.started_at = datetime.now(UTC)
        self.participants[peer.id] = peer.name
        if peer.user_id is not None and peer.user_id not in self.user_ids:
            self.user_ids.append(peer.user_id)

    def broadcast(self, message: ServerMessage, *, skip: Peer | None) -> None:
        """To everyone in the call (not those waiting), but `skip`."""
        for peer in self.peers.values():
            if peer is not skip:
                peer.notify(message)

    def tell_hosts(self, message: ServerMessage) -> None:
        """To the hosts and co-hosts in the call."""
        for peer in self.peers.values():
            if peer.is_host:
                peer.notify(message)

    def others(self, peer: Peer) -> list[PeerInfo]:
        return [p.info() for p in self.peers.values() if p is not peer]
