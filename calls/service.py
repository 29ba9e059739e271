"""Calls: all live rooms of this node, and every call's access settings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from calls.protocol import ProtocolError
from calls.room import Room
from metrics.events import Metrics
from model.access import CallAccess, new_token, same_token
from sfu.worker import Worker

logger = logging.getLogger(__name__)

# Keeps a call's access settings (None: forget the call) in the store.
Persist = Callable[[str, CallAccess | None], Awaitable[None]]


class Calls:
    """All live rooms of this node, and every call's access settings."""

    def __init__(
        self,
        worker: Worker,
        metrics: Metrics,
        *,
        answer_timeout: float = 20.0,
        ice_servers: list[dict[str, str]] | None = None,
        ended_hold: float = 30 * 60,
        clock: Callable[[], float] = time.time,
        persist: Persist | None = None,
    ) -> None:
        self.ice_servers = ice_servers or []
        self.worker = worker
        self.metrics = metrics
        self.answer_timeout = answer_timeout
        self.rooms: dict[str, Room] = {}
        # Every call's access settings: scheduled calls' always, ad-hoc calls' while
        # they live or are held ended. call id -> settings; link token -> call id.
        self.access: dict[str, CallAccess] = {}
        self._by_link: dict[str, str] = {}
        # told about every call that took place, when its room closes
        self.on_call_over: Callable[[Room], Awaitable[None]] | None = None
        # told before a room closes (a recording in it is finished)
        self.before_close: list[Callable[[Room], Awaitable[None]]] = []
        self._reports: set[asyncio.Task[None]] = set()
        # Calls a host ended take no one for a while, so the people sent away cannot
        # simply start them again; after that the link works again (next week's
        # lesson, a teacher's reused ad-hoc call name).
        self.ended_hold = ended_hold
        self._clock = clock
        # Changed settings are written by one task, latest state first and in no
        # particular order between calls, so a burst of changes is one write per call.
        self._persist = persist
        self._dirty: set[str] = set()
        self._writer: asyncio.Task[None] | None = None
        self._written = asyncio.Event()
        # set when the server shuts down: the calls cut off by it are not over, and
        # their people get back in after the restart
        self.stopping = False

    # -- access settings ---------------------------------------------------------------

    def add_access(self, call_id: str, access: CallAccess, *, store: bool = True) -> None:
        """A call's settings (a scheduled call's, or one found in the store at start):
        its room opens with them whenever someone comes."""
        self._drop_link(call_id)
        self.access[call_id] = access
        if access.link is not None:
            self._by_link[access.link] = call_id
        if store:
            self.changed(call_id)

    def _drop_link(self, call_id: str) -> None:
        access = self.access.get(call_id)
        if access is not None and access.link is not None:
            self._by_link.pop(access.link, None)

    def _forget(self, call_id: str) -> None:
        self._drop_link(call_id)
        if self.access.pop(call_id, None) is not None:
            self.changed(call_id)

    def call_for_link(self, token: str) -> str | None:
        """The call a join link leads to, or None (unknown, revoked or regenerated)."""
        return self._by_link.get(token)

    def is_host(self, call_id: str, token: str | None) -> bool:
        """Whether the token makes its bearer a host of the call (live or scheduled)."""
        access = self.access.get(call_id)
        return access is not None and access.is_host_token(token)

    def hosted_room(self, call_id: str, token: str | None) -> Room | None:
        """The live room of the call, if the token makes its bearer a host of it."""
        room = self.rooms.get(call_id)
        return room if room is not None and self.is_host(call_id, token) else None

    def is_ended(self, call_id: str) -> bool:
        access = self.access.get(call_id)
        return access is not None and access.ended_until is not None

    async def set_link(self, call_id: str, token: str | None) -> None:
        """A host regenerated (a new token) or revoked (None) the call's join link: the
        old one stops working at once; the hosts present are told."""
        self._drop_link(call_id)
        access = self.access[call_id]
        access.link = token
        if token is not None:
            self._by_link[token] = call_id
        room = self.rooms.get(call_id)
        if room is not None:
            room.members.link_changed()
        self.changed(call_id)
        await self.flush()

    async def cancel(self, call_id: str) -> None:
        """A scheduled call was deleted: its join link stops working at once, and the
        call is forgotten as soon as nobody is in it (the people in it now stay)."""
        access = self.access.get(call_id)
        if access is None:
            return
        access.scheduled = False
        if call_id in self.rooms:
            await self.set_link(call_id, None)
            return
        self._forget(call_id)
        await self.flush()

    # -- keeping settings in the store ---------------------------------------------------

    def changed(self, call_id: str) -> None:
        if self._persist is None:
            return
        self._dirty.add(call_id)
        self._written.clear()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="call-access-writer")

    async def _write(self) -> None:
        assert self._persist is not None
        while self._dirty:
            call_id = self._dirty.pop()
            try:
                await self._persist(call_id, self.access.get(call_id))
            except Exception:
                logger.exception("keeping the settings of call %s", call_id)
        self._written.set()

    async def flush(self) -> None:
        """Wait until every change so far is in the store."""
        if self._writer is not None and not self._writer.done():
            await asyncio.shield(self._written.wait())

    # -- rooms -----------------------------------------------------------------------------

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
        ProtocolError `call_ended`, `not_found` or `bad_link` (see access.py)."""
        self._check_not_ended(call_id)
        access = self.access.get(call_id)
        if access is None and not may_create:
            raise ProtocolError("not_found", "no such call", "join")
        allowed = (
            operator
            # someone who was in the call (a host, or a participant whose network blinked
            # after the link changed) comes back with their own token
            or (access is not None and access.role_for(host_token) is not None)
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
        access = self.access.get(call_id)
        if access is None or access.ended_until is None:
            return
        if self._clock() < access.ended_until:
            raise ProtocolError("call_ended", "this call has ended", "join")
        if call_id in self.rooms:
            return
        if access.scheduled:
            access.ended_until = None
            self.changed(call_id)
        else:  # an ad-hoc call's name is free again
            self._forget(call_id)

    def _open(self, call_id: str) -> Room:
        room = self.rooms.get(call_id)
        if room is None:
            access = self.access.get(call_id)
            if access is None:  # an ad-hoc call, opened by its creator
                access = CallAccess(title=call_id, waiting_room=False, link=new_token())
                self.add_access(call_id, access)
            room = Room(
                call_id,
                self.worker.get_or_create_router(call_id),
                self.metrics,
                access,
                answer_timeout=self.answer_timeout,
                ice_servers=self.ice_servers,
                on_access_changed=lambda: self.changed(call_id),
            )
            self.rooms[call_id] = room
        return room

    async def release_if_empty(self, room: Room) -> None:
        if room.ended and room.access.ended_until is None:
            room.access.ended_until = self._clock() + self.ended_hold
            self.changed(room.id)
        if room.empty and self.rooms.get(room.id) is room:
            del self.rooms[room.id]
            over = not room.access.scheduled and room.access.ended_until is None
            if over and not self.stopping:
                self._forget(room.id)  # an ad-hoc call's name and link are free again
            await self._closing(room)
            await self.worker.close_router(room.id)
            await self._report(room)

    async def _closing(self, room: Room) -> None:
        for callback in list(self.before_close):
            try:
                await callback(room)
            except Exception:
                logger.exception("closing call %s", room.id)

    async def _report(self, room: Room) -> None:
        # A task of our own: the write must not die with the WebSocket handler that
        # happened to close the room (aiohttp cancels it when the client goes away).
        if room.roster.started_at is not None and self.on_call_over is not None:
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
        """Shut down: every room closes, but the calls' settings stay in the store, so
        the people of a live call get back in after a restart."""
        self.stopping = True
        for room in list(self.rooms.values()):
            await self._closing(room)
            await room.close()
            await self._report(room)
        self.rooms.clear()
        await self.flush()
        if self._reports:
            await asyncio.gather(*self._reports, return_exceptions=True)
