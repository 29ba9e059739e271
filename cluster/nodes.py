"""Nodes of one parta cluster, and which of them hosts each call: kept in Redis with a
heartbeat, placed by one Lua script, on one shared clock (cluster/DESIGN.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from cluster.text import text
from metrics.events import ClusterMetrics

logger = logging.getLogger(__name__)

PREFIX = "parta:"
LOAD = PREFIX + "load"
TICKET_SECONDS = 60
CPU_WINDOW = 0.5  # CPU use is measured over at least this long

# KEYS[1] the call's key, KEYS[2] the load set; ARGV: ttl in ms, the key prefix of nodes,
# this node's id, what a new call adds to its node's load until the next heartbeat says
# (so calls started within one heartbeat do not all go to the same node)
_PLACE = """
local owner = redis.call('GET', KEYS[1])
if owner and redis.call('EXISTS', ARGV[2] .. owner) == 1 then
    return owner
end
local candidates = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, node in ipairs(candidates) do
    if redis.call('EXISTS', ARGV[2] .. node) == 1 then
        redis.call('SET', KEYS[1], node, 'PX', ARGV[1])
        redis.call('ZINCRBY', KEYS[2], ARGV[4], node)
        return node
    end
    redis.call('ZREM', KEYS[2], node)
end
return false
"""

# KEYS: this node's calls; ARGV: this node's id, ttl in ms. Renew only what is ours (or
# lost meanwhile): never take a call another node got when we were thought dead.
_RENEW = """
for _, key in ipairs(KEYS) do
    local owner = redis.call('GET', key)
    if not owner or owner == ARGV[1] then
        redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    end
end
return #KEYS
"""

# release a call only if this node holds it
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Load:
    rooms: int
    peers: int
    cpu: float  # cores this process used, averaged since the last heartbeat

    @property
    def score(self) -> float:
        # peers cost the most; an empty room a little; CPU breaks ties between equals
        return self.peers + 0.5 * self.rooms + self.cpu


NEW_CALL = Load(rooms=1, peers=1, cpu=0.0)  # a call just placed: a room, its first peer


class SharedClock:
    """The cluster's clock: Redis's `TIME`, as this node's wall clock plus an offset that
    every heartbeat measures again (Redis's time against the middle of the round trip).
    A node's own clock may be minutes off; this one is off by at most half a round trip
    and the drift of one heartbeat interval."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        self.offset = 0.0  # seconds to add to this node's wall clock

    def now(self) -> float:
        """Seconds since the epoch, by the cluster's clock."""
        return self.wall() + self.offset

    def heard(self, redis_time: tuple[int, int], sent: float, received: float) -> None:
        """Redis said `redis_time` (seconds, microseconds) between `sent` and `received`
        (this node's wall clock)."""
        self.offset = redis_time[0] + redis_time[1] / 1e6 - (sent + received) / 2


@dataclass(frozen=True)
class Node:
    id: str
    url: str
    load: Load


class Cluster:
    def __init__(
        self,
        redis: Redis,
        node_id: str,
        url: str,
        load: Callable[[], tuple[int, int]],
        rooms: Callable[[], list[str]],
        *,
        ttl: float = 5.0,
        heartbeat: float = 1.0,
        metrics: ClusterMetrics | None = None,
    ) -> None:
        """`load()` gives (rooms, peers) now; `rooms()` the calls this node hosts."""
        self.clock = SharedClock()
        self.redis = redis
        self.id = node_id
        self.url = url.rstrip("/")
        self._load = load
        self._rooms = rooms
        self.ttl = ttl
        self.heartbeat_interval = heartbeat
        self.draining = False
        self._stopped = False
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # set when stopping: no waiting out a heartbeat
        self._cpu_mark = (time.monotonic(), _cpu_seconds())
        self._cpu = 0.0  # cores used, over the last CPU_WINDOW or more
        self._place = redis.register_script(_PLACE)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    def _node_key(self, node_id: str) -> str:
        return f"{PREFIX}node:{node_id}"

    def _room_key(self, call_id: str) -> str:
        return f"{PREFIX}room:{call_id}"

    # -- membership ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.create_task(self._run(), name="cluster heartbeat")

    async def _run(self) -> None:
        while not self._stopped:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.heartbeat_interval)
            if self._stopped:
                return
            try:
                await self.beat()
                if self.metrics is not None:
                    self.metrics.nodes.set(len(await self.nodes()))
            except Exception as exc:  # Redis away for a moment: try again next beat
                logger.warning("cluster heartbeat: %s", exc)
                if self.metrics is not None:
                    self.metrics.heartbeat_errors.inc()

    def current_load(self) -> Load:
        rooms, peers = self._load()
        now, cpu = time.monotonic(), _cpu_seconds()
        then, before = self._cpu_mark
        if now - then >= CPU_WINDOW:  # shorter: the clock's 10 ms ticks would be noise
            self._cpu_mark = (now, cpu)
            self._cpu = round((cpu - before) / (now - then), 3)
        return Load(rooms, peers, self._cpu)

    async def beat(self) -> None:
        """Say we are alive and how busy; keep our calls ours."""
        load = self.current_load()
        ttl_ms = int(self.ttl * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(
                self._node_key(self.id),
                mapping={
                    "url": self.url,
                    "rooms": load.rooms,
                    "peers": load.peers,
                    "cpu": load.cpu,
                    "draining": int(self.draining),
                },
            )
            pipe.pexpire(self._node_key(self.id), ttl_ms)
            if self.draining:
                pipe.zrem(LOAD, self.id)
            else:
                pipe.zadd(LOAD, {self.id: load.score})
            pipe.time()
            sent = self.clock.wall()
            replies = await pipe.execute()
            self.clock.heard(replies[-1], sent, self.clock.wall())
        rooms = [self._room_key(call_id) for call_id in self._rooms()]
        if rooms and not self.draining:  # a draining node gave its calls back
            await self._renew(keys=rooms, args=[self.id, ttl_ms * 2])

    async def nodes(self) -> list[Node]:
        """The live nodes, least loaded first."""
        found = []
        members = cast(list[bytes], await self.redis.zrange(LOAD, 0, -1))
        for node_id in members:
            info = await self.redis.hgetall(self._node_key(text(node_id)))
            if not info:
                continue
            values = {text(k): text(v) for k, v in info.items()}
            load = Load(int(values["rooms"]), int(values["peers"]), float(values["cpu"]))
            found.append(Node(text(node_id), values["url"], load))
        return found

    # -- calls ---------------------------------------------------------------------------

    async def place(self, call_id: str) -> str | None:
        """The node that hosts the call, placing it on the least loaded live node when
        it has none: the same answer on every node. None when no node is live."""
        ttl_ms = int(self.ttl * 2000)
        owner = await self._place(
            keys=[self._room_key(call_id), LOAD],
            args=[ttl_ms, f"{PREFIX}node:", self.id, NEW_CALL.score],
        )
        return None if owner is None else text(owner)

    async def owner(self, call_id: str) -> str | None:
        owner = await self.redis.get(self._room_key(call_id))
        return None if owner is None else text(owner)

    async def url_of(self, node_id: str) -> str | None:
        url = await self.redis.hget(self._node_key(node_id), "url")
        return None if url is None else text(url)

    async def release(self, call_id: str) -> None:
        """The call ended here (or we drain): the next join places it anew."""
        await self._release(keys=[self._room_key(call_id)], args=[self.id])

    async def ticket(self, session_token: str) -> str:
        """A one-time ticket that logs its bearer in as this session on another node
        (a browser sent there has no cookie for that node's host name)."""
        ticket = secrets.token_urlsafe(24)
        await self.redis.set(f"{PREFIX}ticket:{ticket}", session_token, ex=TICKET_SECONDS)
        return ticket

    async def redeem(self, ticket: str) -> str | None:
        """The session a ticket stands for; a ticket works once."""
        token = await self.redis.getdel(f"{PREFIX}ticket:{ticket}")
        return None if token is None else text(token)

    async def drain(self) -> None:
        """Take no new calls, and hand back the ones we have."""
        self.draining = True
        await self.redis.zrem(LOAD, self.id)
        for call_id in self._rooms():
            await self.release(call_id)

    async def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._task is not None:
            # not cancelled in the middle of a Redis command: it ends after that
            _, late = await asyncio.wait([self._task], timeout=3)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.drain()
            await self.redis.delete(self._node_key(self.id))


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system
