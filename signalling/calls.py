"""Calls: all live rooms of this node."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from sfu.worker import Worker

from .metrics import Metrics
from .protocol import (
    ProtocolError,
)
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
        # scheduled calls: their title and waiting-room switch, applied when the room opens
        self.defaults: dict[str, tuple[str, bool]] = {}
        # told about every call that took place, when its room closes
        self.on_call_over: Callable[[Room], Awaitable[None]] | None = None
        self._reports: set[asyncio.Task[None]] = set()
        # Calls a host ended take no one for a while, so the people sent away cannot
        # simply start them again; after that the link works again (next week's
        # lesson, a teacher's reused ad-hoc link). call id -> monotonic deadline.
        self.ended: dict[str, float] = {}
        self.ended_hold = ended_hold
        self._clock = clock

    def room(self, call_id: str) -> Room:
        until = self.ended.get(call_id)
        if until is not None:
            if self._clock() < until:
                raise ProtocolError("call_ended", "this call has ended", "join")
            del self.ended[call_id]
        room = self.rooms.get(call_id)
        if room is None:
            room = Room(
                call_id,
                self.worker.get_or_create_router(call_id),
                self.metrics,
                answer_timeout=self.answer_timeout,
            )
            room.ice_servers = self.ice_servers
            if call_id in self.defaults:
                room.title, room.waiting_room = self.defaults[call_id]
            self.rooms[call_id] = room
        return room

    async def release_if_empty(self, room: Room) -> None:
        if room.ended:
            self.ended[room.id] = self._clock() + self.ended_hold
        if room.empty and self.rooms.get(room.id) is room:
            del self.rooms[room.id]
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
