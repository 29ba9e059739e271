"""The cluster's chat event bus: delivered here at once and appended to one Redis
stream, `parta:bus`, which every node reads, in order, resuming after a break (the design:
cluster/DESIGN.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from redis.asyncio import Redis

from chat.bus import Bus, BusMetrics, Envelope, stop_tasks
from chat.hub import Hub
from cluster.text import text

logger = logging.getLogger(__name__)

STREAM = "parta:bus"


MAXLEN = 100_000


BACKLOG = 10_000


BATCH = 256


READ_BLOCK_MS = 1000  # the longest a read waits, and so the longest `close` waits for it


class RedisBus(Bus):
    def __init__(
        self,
        hub: Hub,
        redis: Redis,
        node_id: str,
        metrics: BusMetrics,
        *,
        retry: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: the cluster's (an event's age is its reader's time less its writer's)."""
        super().__init__(hub)
        self.clock = clock
        self.redis = redis
        self.node_id = node_id
        self.metrics = metrics
        self.retry = retry
        self.last_id = "0-0"
        self.redis_run = ""  # the Redis server read from (its run id)
        self.dropped = 0  # envelopes not published: the backlog overflowed
        self.instance = secrets.token_hex(6)  # this process's publications
        self._published = 0  # numbered in order
        self._seen: dict[str, int] = {}  # instance -> the highest number handled
        self._outbox: deque[tuple[int, Envelope]] = deque()
        self._waiting = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # stopped by a flag: a blocking read that is cancelled can hang redis-py's client
        self._stopping = False

    def _share(self, envelope: Envelope) -> None:
        if self._stopping:  # closed: this node's hub alone, as the embedded bus
            return
        if len(self._outbox) >= BACKLOG:
            self._outbox.popleft()
            self.dropped += 1
        self._published += 1
        self._outbox.append((self._published, envelope))
        self._waiting.set()

    async def start(self) -> None:
        self.redis_run = await self._run_id()
        newest = cast(list[Any], await self.redis.xrevrange(STREAM, count=1))
        if newest:
            self.last_id = text(newest[0][0])
        self._tasks = [
            asyncio.create_task(self._publishing(), name="bus publisher"),
            asyncio.create_task(self._reading(), name="bus reader"),
        ]

    async def _publishing(self) -> None:
        while not self._stopping:
            await self._waiting.wait()
            while self._outbox:
                batch = [self._outbox[i] for i in range(min(BATCH, len(self._outbox)))]
                try:
                    await self._append(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self._stopping:
                        return
                    logger.warning("bus: cannot publish (%s); again in %.1f s", exc, self.retry)
                    await asyncio.sleep(self.retry)
                    continue
                last = batch[-1][0]  # the backlog may have dropped some of it meanwhile
                while self._outbox and self._outbox[0][0] <= last:
                    self._outbox.popleft()
                self.metrics.published(len(batch))
            self._waiting.clear()

    async def _append(self, batch: list[tuple[int, Envelope]]) -> None:
        at = repr(self.clock())
        async with self.redis.pipeline(transaction=False) as pipe:
            for number, envelope in batch:
                fields = {
                    "n": self.node_id,
                    "i": f"{self.instance}:{number}",
                    "t": at,
                    "d": json.dumps(envelope.as_json(), default=str),
                }
                pipe.xadd(STREAM, fields, maxlen=MAXLEN, approximate=True)  # type: ignore[arg-type]
            await pipe.execute()

    async def _reading(self) -> None:
        broken = False
        check = False  # whether to ask if events were lost while Redis was away
        while not self._stopping:
            try:
                found = cast(
                    list[Any],
                    await self.redis.xread({STREAM: self.last_id}, count=1000, block=READ_BLOCK_MS),
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not broken:
                    logger.warning("bus: lost Redis (%s); resuming after %s", exc, self.last_id)
                    broken = True
                await asyncio.sleep(self.retry)
                continue
            if broken:
                broken = False
                check = True
                self.metrics.reconnected()
                logger.info("bus: back on Redis, reading after %s", self.last_id)
            if check:
                missed = await self._missed()
                check = missed is None  # not known yet: asked again after the next read
                if missed:
                    self.metrics.gap()
                    told = self.hub.tell_all({"type": "resync"})
                    logger.warning(
                        "bus: events after %s are gone from Redis; %d clients told to read again",
                        self.last_id,
                        told,
                    )
            for _, entries in found or ():
                self._handle(entries)

    async def _missed(self) -> bool | None:
        """Whether events after the last one handled here may have left Redis unread:
        lost with Redis's memory (it restarted), or trimmed from the stream (a node away
        too long). The stream is trimmed oldest first, so while the last entry handled
        is still there, nothing after it was trimmed."""
        try:
            run_id = await self._run_id()
            restarted, self.redis_run = run_id != self.redis_run, run_id
            if restarted:
                return True
            if self.last_id == "0-0":
                return False  # nothing read yet: the reader starts at the oldest kept
            still = await self.redis.xrange(STREAM, min=self.last_id, max=self.last_id, count=1)
        except Exception:
            return None  # Redis did not answer: asked again
        return not still

    async def _run_id(self) -> str:
        """The Redis server's run id: another one is a restarted server."""
        info = await self.redis.info("server")
        return str(info.get("run_id", ""))

    def _handle(self, entries: list[Any]) -> None:
        now = self.clock()
        for entry_id, fields in entries:
            self.last_id = text(entry_id)
            values = {text(k): text(v) for k, v in fields.items()}
            instance, _, number = values.get("i", "").partition(":")
            if instance == self.instance:
                continue  # delivered when published
            if instance and number.isdigit():
                if int(number) <= self._seen.get(instance, 0):
                    continue  # a copy: its batch was appended again
                self._seen[instance] = int(number)
            try:
                envelope = Envelope.from_json(json.loads(values["d"]))
            except (KeyError, ValueError, TypeError):
                logger.warning("bus: skipped a malformed entry %s", self.last_id)
                continue
            self.hub.deliver(envelope.users, envelope.event, envelope.unless_focused)
            age = 0.0
            with contextlib.suppress(KeyError, ValueError):
                age = max(0.0, now - float(values["t"]))
            self.metrics.received(age)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every envelope published so far is in Redis (at shutdown)."""
        deadline = time.monotonic() + timeout
        while self._outbox and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.flush()
        self._stopping = True
        self._waiting.set()
        await stop_tasks(self._tasks, READ_BLOCK_MS / 1000 + 2)
        self._tasks = []
