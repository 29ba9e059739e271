"""Who reads each chat, on every node: kept in Redis hashes `parta:reading:{chat}`, so a
notification skips a member reading the chat on another node (cluster/DESIGN.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import cast

from redis.asyncio import Redis

from chat.focus import LocalFocus
from chat.hub import Connection, Hub

logger = logging.getLogger(__name__)

PREFIX = "parta:reading:"


REFRESH = 20.0


STALE = 3 * REFRESH


ASK_TIMEOUT = 0.5  # seconds a post waits to learn who reads its chat elsewhere


# KEYS[1] a chat's readers; ARGV: a field, the value seen stale. Delete it only if it is
# still that value: its node may have written it again meanwhile.
_DROP_STALE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


class SharedFocus(LocalFocus):
    def __init__(
        self, hub: Hub, redis: Redis, node_id: str, clock: Callable[[], float] = time.time
    ) -> None:
        """`clock`: seconds since the epoch by the cluster's clock, which every node's
        stamps are written and judged by."""
        self.hub = hub
        self.clock = clock
        self.redis = redis
        self.node_id = node_id
        self._changed: dict[str, tuple[str, str | None]] = {}  # field -> (user, chat)
        self._written: dict[str, str] = {}  # field -> the chat Redis has for it
        self._stale: set[tuple[str, str, str]] = set()  # (chat, field, value) a dead node left
        self._drop_stale = redis.register_script(_DROP_STALE)
        self._wake = asyncio.Event()
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def _field(self, connection: Connection) -> str:
        return f"{self.node_id}/{connection.id}"

    async def start(self) -> None:
        self.hub.on_focus = self._focused
        self._task = asyncio.create_task(self._run(), name="chat focus")

    def _focused(self, connection: Connection) -> None:
        self._changed[self._field(connection)] = (connection.user_id, connection.focus)
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        while not self._stopped:
            with contextlib.suppress(TimeoutError):
                left = max(0.0, refreshed + REFRESH - loop.time())
                await asyncio.wait_for(self._wake.wait(), left)
            self._wake.clear()
            try:
                if loop.time() - refreshed >= REFRESH:
                    refreshed = loop.time()
                    for connection in self.hub.all_connections():
                        if connection.focus is not None:
                            self._focused(connection)
                await self._write()
            except Exception as exc:  # Redis away: written when it is back
                logger.warning("chat focus: cannot write to Redis (%s)", exc)
                await asyncio.sleep(1.0)

    async def _write(self) -> None:
        changed, self._changed = self._changed, {}
        stale, self._stale = self._stale, set()
        if not changed and not stale:
            return
        stamp = str(int(self.clock() * 1000))
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for left, field, value in stale:
                    await self._drop_stale(keys=[PREFIX + left], args=[field, value], client=pipe)
                for field, (user, shown) in changed.items():
                    before = self._written.get(field)
                    if before is not None and before != shown:
                        pipe.hdel(PREFIX + before, field)
                    if shown is not None:
                        pipe.hset(PREFIX + shown, field, f"{user}|{stamp}")
                        pipe.expire(PREFIX + shown, int(STALE))
                await pipe.execute()
        except BaseException:
            for field, change in changed.items():  # kept, unless changed meanwhile
                self._changed.setdefault(field, change)
            self._stale |= stale
            raise
        for field, (_, shown) in changed.items():
            if shown is None:
                self._written.pop(field, None)
            else:
                self._written[field] = shown

    async def reading(self, users: Iterable[str], chat_id: str) -> set[str]:
        users = set(users)
        if not users or self._stopped:  # closed: the hub judges by itself, as on one node
            return set()
        # this node's connections as they are now (Redis may not have the latest yet)
        reading = {u for u in users if any(c.focus == chat_id for c in self.hub.connections(u))}
        try:
            async with asyncio.timeout(ASK_TIMEOUT):
                fields = cast(dict[bytes, bytes], await self.redis.hgetall(PREFIX + chat_id))
        except Exception as exc:
            logger.warning("chat focus: cannot read Redis (%s); notifying everyone", exc)
            return reading
        fresh_after = self.clock() * 1000 - STALE * 1000
        mine = f"{self.node_id}/".encode()
        for field, value in fields.items():
            if field.startswith(mine):
                continue
            user, _, stamp = value.decode().rpartition("|")
            if stamp.isdigit() and int(stamp) > fresh_after:
                if user in users:
                    reading.add(user)
            else:  # left by a node that died: removed in the background
                self._stale.add((chat_id, field.decode(), value.decode()))
                self._wake.set()
        return reading

    async def close(self) -> None:
        """This node's connections leave the board."""
        self._stopped = True
        self._wake.set()
        if self.hub.on_focus == self._focused:
            self.hub.on_focus = None
        if self._task is not None:
            _, late = await asyncio.wait([self._task], timeout=3)
            for task in late:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._task = None
        # every field written, or perhaps written (a write that failed midway), goes
        for field, (_, shown) in list(self._changed.items()):
            if shown is not None:
                self._written.setdefault(field, shown)
        self._changed = {field: ("", None) for field in self._written}
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._write()
