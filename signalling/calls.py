"""Calls: all live rooms of this node."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from sfu.worker import Worker

from .access import CallAccess, new_token, same_token
from .metrics import Metrics
from .protocol import ProtocolError
from .room import Room

logger = logging.getLogger(__name__)


class Calls:
    """All live rooms of this node."""

    def __init__(
        self,
        worker: Worker,
        metrics: Metrics,
        *,
        answer_timeout: float = 20.0,
        ice_servers: list[dict[str, str]] | None = None,
        ended_hold: float = 30 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ice_servers = ice_servers or []
        self.worker = worker
        self.metrics = metrics
        self.answer_timeout = answer_timeout
        self.rooms: dict[str, Room] = {}
        # Every call's access settings: scheduled calls' always (from the store), ad-hoc
        # calls' while their room lives. call id -> settings; join-link token -> call id.
        self.access: dict[str, CallAccess] = {}
        self._by_link: dict[str, str] = {}
        # told when a host regenerates or revokes a join link (the store keeps
        # scheduled calls' links)
        self.on_link_changed: Callable[[str, CallAccess], Awaitable[None]] | None = None
        # told about every call that took place, when its room closes
        self.on_call_over: Callable[[Room], Awaitable[None]] | None = None
        self._reports: set[asyncio.Task[None]] = set()
        # Calls a host ended take no one for a while, so the people sent away cannot
        # simply start them again; after that the link works again (next week's
        # lesson, a teacher's reused ad-hoc link). call id -> monotonic deadline.
        self.ended: dict[str, float] = {}
        self.ended_hold = ended_hold
        self._clock = clock

    def add_scheduled(self, call_id: str, access: CallAccess) -> None:
        """A scheduled call: its room opens with these settings whenever someone comes."""
        self._forget(call_id)
        self.access[call_id] = access
        if access.link is not None:
            self._by_link[access.link] = call_id

    def _forget(self, call_id: str) -> None:
        access = self.access.pop(call_id, None)
        if access is not None and access.link is not None:
            self._by_link.pop(access.link, None)

    def call_for_link(self, token: str) -> str | None:
        """The call a join link leads to, or None (unknown, revoked or regenerated)."""
        return self._by_link.get(token)

    def enter(
        self,
        call_id: str,
        *,
        link: str | None = None,
        host_token: str | None = None,
        operator: bool = False,
        may_create: bool = True,
    ) -> Room:
        """The room of a call that someone may enter, opened if need be; raises
        ProtocolError `call_ended` or `bad_link` (see access.py for the rules)."""
        self._check_not_ended(call_id)
        access = self.access.get(call_id)
        if access is None and not may_create:
            raise ProtocolError("not_found", "no such call", "join")
        allowed = (
            operator
            or self.is_host(call_id, host_token)
            or (access is not None and same_token(link, access.link))
            or (access is None and may_create)
        )
        if not allowed:
            raise ProtocolError(
                "bad_link",
                "this call needs a valid invite link: ask the host for a new one",
                "join",
            )
        return self._open(call_id)

    def _check_not_ended(self, call_id: str) -> None:
        until = self.ended.get(call_id)
        if until is not None:
            if self._clock() < until:
                raise ProtocolError("call_ended", "this call has ended", "join")
            del self.ended[call_id]

    def _open(self, call_id: str) -> Room:
        room = self.rooms.get(call_id)
        if room is None:
            access = self.access.get(call_id)
            if access is None:  # an ad-hoc call, opened by its creator
                access = CallAccess(title=call_id, waiting_room=False, link=new_token())
                self.add_scheduled(call_id, access)
            room = Room(
                call_id,
                self.worker.get_or_create_router(call_id),
                self.metrics,
                access,
                answer_timeout=self.answer_timeout,
            )
            room.ice_servers = self.ice_servers
            self.rooms[call_id] = room
        return room

    def is_host(self, call_id: str, token: str | None) -> bool:
        """Whether the token makes its bearer a host of the call (live or scheduled)."""
        room = self.rooms.get(call_id)
        access = self.access.get(call_id)
        return (room is not None and room.is_host_token(token)) or (
            access is not None and same_token(token, access.host_key)
        )

    async def set_link(self, call_id: str, token: str | None) -> None:
        """A host regenerated (a new token) or revoked (None) the call's join link: the
        old one stops working at once; the hosts present are told."""
        access = self.access[call_id]
        if access.link is not None:
            self._by_link.pop(access.link, None)
        access.link = token
        if token is not None:
            self._by_link[token] = call_id
        room = self.rooms.get(call_id)
        if room is not None:
            room.link_changed()
        if access.scheduled and self.on_link_changed is not None:
            await self.on_link_changed(call_id, access)

    async def release_if_empty(self, room: Room) -> None:
        if room.ended:
            self.ended[room.id] = self._clock() + self.ended_hold
        if room.empty and self.rooms.get(room.id) is room:
            del self.rooms[room.id]
            if not room.access.scheduled:
                self._forget(room.id)  # an ad-hoc call's name and link are free again
            await self.worker.close_router(room.id)
            await self._report(room)

    async def _report(self, room: Room) -> None:
        # A task of our own: the write must not die with the WebSocket handler that
        # happened to close the room (aiohttp cancels it when the client goes away).
        if room.started_at is not None and self.on_call_over is not None:
            task = asyncio.create_task(self._record(room))
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)

    async def _record(self, room: Room) -> None:
        assert self.on_call_over is not None
        try:
            await self.on_call_over(room)
        except Exception:
            logger.exception("recording the history of call %s", room.id)

    def peer_count(self) -> int:
        return sum(len(r.peers) for r in self.rooms.values())

    def viewer_count(self) -> int:
        return sum(len(r.viewers) for r in self.rooms.values())

    def waiting_count(self) -> int:
        return sum(len(r.waiting) for r in self.rooms.values())

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await room.close()
            await self._report(room)
        self.rooms.clear()
        if self._reports:
            await asyncio.gather(*self._reports, return_exceptions=True)
