"""Broadcasts across nodes: an edge node serves WebRTC viewers of a broadcast that
another node (its origin) hosts, pulling each of the stage's tracks once.

The design: broadcast/DESIGN.md, *edges.py*."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import aiohttp
from redis.asyncio import Redis

from broadcast.service import COUNT_INTERVAL, Broadcast, Broadcasts, HlsAudience
from calls.viewers import Viewer, new_stage, open_viewer
from model.access import same_token, session_of
from sfu.sdp import answered_tracks
from sfu.worker import Worker

logger = logging.getLogger(__name__)

SECRET_KEY = "parta:secret"
SECRET_HEADER = "X-Parta-Cluster"
SECRET_REREAD = 1.0  # read the secret from Redis again at most this often
IDLE_CLOSE = 30.0
DIRECTORY_TTL = 86400  # a dead origin's entries go on their own
COUNT_TTL = 3 * COUNT_INTERVAL  # a count not renewed in this long is gone


class OriginUnavailable(Exception):
    """The origin could not be reached, or refused the pipe."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the origin's HTTP status, when it answered


@dataclass(frozen=True)
class Remote:
    """A broadcast as the cluster's directory has it."""

    id: str
    token: str
    call_id: str
    public: bool
    org_id: str | None
    node: str  # the origin's id
    ended: bool = False
    title: str = ""  # the call's, when it went on air
    started_at: str | None = None  # ISO 8601


class Relay:
    """On an edge: one call's broadcast, pulled once from its origin, and the edge's
    viewers of it."""

    def __init__(self, worker: Worker, remote: Remote) -> None:
        self.remote = remote
        self.router = worker.get_or_create_router(f"relay-{remote.call_id}")
        self.transport = self.router.create_transport(f"relay-{remote.call_id}-pipe")
        self.stage = new_stage(f"relay-{remote.call_id}-stage", self.router)
        self.viewers: dict[str, Viewer] = {}
        self.closed = False
        self.on_closed: Callable[[Relay], None] | None = None
        self._idle_since: float | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing: asyncio.Future[None] | None = None
        self.transport.on_closed.append(lambda _: self._pipe_broken())

    async def connect(self, http: aiohttp.ClientSession, origin_url: str, secret: str) -> None:
        for kind in ("audio", "video"):
            self.transport.add_incoming(kind)
        offer = await self.transport.create_offer()
        url = f"{origin_url}/internal/edge/{self.remote.call_id}?broadcast={self.remote.id}"
        headers = {SECRET_HEADER: secret, "Content-Type": "application/sdp"}
        try:
            async with http.post(url, data=offer, headers=headers) as response:
                answer = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OriginUnavailable(f"the origin does not answer: {exc}") from exc
        if response.status != 201:
            raise OriginUnavailable(
                f"the origin refused: {response.status} {answer[:200]}", response.status
            )
        await self.transport.accept_answer(answer)
        for track in answered_tracks(answer):
            producer = self.router.create_producer(
                self.transport,
                track,
                producer_id=f"relay-{self.remote.call_id}-{track.kind}",
                source="camera" if track.kind == "video" else "microphone",
                owner="origin",
            )
            self.stage.follow(track.kind, producer)
        self._ticker = asyncio.create_task(self._tick(), name=f"relay {self.remote.call_id}")

    async def add_viewer(self, offer: str) -> tuple[Viewer, str]:
        return await open_viewer(
            self.stage, offer, self.viewers, self._viewer_closed, self.remote.id
        )

    def _viewer_closed(self, viewer: Viewer) -> None:
        self.viewers.pop(viewer.id, None)

    async def _tick(self) -> None:
        """Cut the edge's slow viewers by the stage's policy; close when long idle."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            await asyncio.sleep(1.0)
            for seat, _reason in self.stage.tick():
                viewer = self.viewers.get(seat.id)
                if viewer is not None:
                    await viewer.close()
            if self.viewers:
                self._idle_since = None
            elif self._idle_since is None:
                self._idle_since = loop.time()
            elif loop.time() - self._idle_since >= IDLE_CLOSE:
                await self.close()

    def _pipe_broken(self) -> None:
        if not self.closed and self._closing is None:
            self._closing = asyncio.ensure_future(self.close())  # kept: not collected

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.on_closed is not None:
            self.on_closed(self)
        for viewer in list(self.viewers.values()):
            await viewer.close()
        self.stage.close()
        await self.transport.close()
        if self._ticker is not None and self._ticker is not asyncio.current_task():
            self._ticker.cancel()


class Edges:
    """This node's part in broadcasts across nodes: the origin's directory entries and
    pipes, and the edge's relays."""

    def __init__(self, redis: Redis, node_id: str, worker: Worker, broadcasts: Broadcasts) -> None:
        self.redis = redis
        self.node_id = node_id
        self.worker = worker
        self.broadcasts = broadcasts  # this node's own (it is their origin)
        self.secret = ""
        self._secret_read = -SECRET_REREAD
        self.relays: dict[str, Relay] = {}  # call id -> relay (edge side)
        self.hls: dict[str, HlsAudience] = {}  # broadcast id -> HLS viewers here (edge side)
        self.pipes: dict[str, Viewer] = {}  # viewer id -> the edge it feeds (origin side)
        self.pipe_bytes = 0  # sent through pipes that closed
        # origin side: broadcast id -> (WebRTC, HLS) viewers on the other nodes
        self.elsewhere: dict[str, tuple[int, int]] = {}
        self._reported: set[str] = set()  # broadcasts we told the origin of (edge side)
        self._connecting: dict[str, asyncio.Future[Relay]] = {}
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._counter: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.read_secret()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        self.broadcasts.elsewhere = lambda b: self.elsewhere.get(b.id, (0, 0))
        self._counter = asyncio.create_task(self._count(), name="edge viewer counts")

    async def read_secret(self) -> bool:
        """Read the cluster's secret (made by the first node to ask, here if none is
        there: Redis may have restarted empty). True when it changed; at most once a
        `SECRET_REREAD`, however often it is asked."""
        now = time.monotonic()
        if now - self._secret_read < SECRET_REREAD:
            return False
        self._secret_read = now
        await self.redis.set(SECRET_KEY, secrets.token_urlsafe(32), nx=True)
        secret = _text(await self.redis.get(SECRET_KEY) or b"")
        changed, self.secret = secret != self.secret, secret
        return changed

    async def admits(self, offered: str | None) -> bool:
        """Whether a pipe's request carries the cluster's secret (read again when not)."""
        if same_token(offered, self.secret):
            return True
        with contextlib.suppress(Exception):
            await self.read_secret()  # another request may have read it just now
        return same_token(offered, self.secret)

    # -- the directory (origin side writes, edges read) ------------------------------

    def announce(self, broadcast: Broadcast, old_token: str | None) -> None:
        """A broadcast started, changed its link, or ended: tell the cluster (in the
        background: a broadcast never waits for Redis)."""
        task = asyncio.create_task(self._announce(broadcast, old_token))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce(self, broadcast: Broadcast, old_token: str | None) -> None:
        room = self.broadcasts.rooms(broadcast.room_id)
        remote = Remote(
            broadcast.id,
            broadcast.token,
            broadcast.room_id,
            broadcast.public,
            broadcast.org_id,
            self.node_id,
            title=room.title if room is not None else "",
            started_at=broadcast.started_at.isoformat(),
        )
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if old_token is not None:
                    pipe.delete(f"parta:watch:{old_token}")
                if broadcast.ended:
                    pipe.delete(f"parta:watch:{broadcast.token}", f"parta:broadcast:{broadcast.id}")
                else:
                    text = json.dumps(asdict(remote))
                    pipe.set(f"parta:watch:{broadcast.token}", text, ex=DIRECTORY_TTL)
                    pipe.set(f"parta:broadcast:{broadcast.id}", text, ex=DIRECTORY_TTL)
                await pipe.execute()
        except Exception as exc:
            logger.warning("edges: could not announce broadcast %s: %s", broadcast.id, exc)

    async def by_token(self, token: str) -> Remote | None:
        return await self._find(f"parta:watch:{token}")

    async def by_id(self, broadcast_id: str) -> Remote | None:
        return await self._find(f"parta:broadcast:{broadcast_id}")

    async def _find(self, key: str) -> Remote | None:
        text = await self.redis.get(key)
        if text is None:
            return None
        known = {f.name for f in fields(Remote)}  # a newer node may write more
        remote = Remote(**{k: v for k, v in json.loads(text).items() if k in known})
        if remote.node == self.node_id:
            return None  # ours and gone: it ended here
        if not await self.redis.exists(f"parta:node:{remote.node}"):
            return None  # its node died: the broadcast is over
        return remote

    # -- viewer counts ----------------------------------------------------------------

    def hls_audience(self, broadcast_id: str) -> HlsAudience:
        """The HLS viewers on this node of a broadcast another node hosts."""
        return self.hls.setdefault(broadcast_id, HlsAudience())

    def here(self) -> dict[str, tuple[int, int]]:
        """(WebRTC, HLS) viewers watching on this node, by broadcast, of the broadcasts
        other nodes host."""
        now = time.monotonic()
        counts = {relay.remote.id: (len(relay.viewers), 0) for relay in self.relays.values()}
        for broadcast_id, audience in list(self.hls.items()):
            hls = audience.count(now)
            if hls == 0:
                del self.hls[broadcast_id]
                continue
            webrtc, _ = counts.get(broadcast_id, (0, 0))
            counts[broadcast_id] = (webrtc, hls)
        return counts

    async def _count(self) -> None:
        while True:
            await asyncio.sleep(COUNT_INTERVAL)
            try:
                await self.count()
            except Exception as exc:  # Redis away for a moment: counts wait for it
                logger.warning("edges: cannot count viewers: %s", exc)

    async def count(self) -> None:
        """Tell the origins how many watch here; add up how many watch ours elsewhere."""
        here = self.here()
        ttl = int(COUNT_TTL * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for broadcast_id in self._reported - set(here):  # none left: say so at once
                pipe.delete(_count_key(broadcast_id, self.node_id))
            for broadcast_id, (webrtc, hls) in here.items():
                pipe.set(_count_key(broadcast_id, self.node_id), f"{webrtc} {hls}", px=ttl)
                pipe.sadd(f"parta:viewers:{broadcast_id}", self.node_id)
                pipe.expire(f"parta:viewers:{broadcast_id}", DIRECTORY_TTL)
            await pipe.execute()
        self._reported = set(here)
        elsewhere = {}
        for broadcast in list(self.broadcasts.by_room.values()):
            elsewhere[broadcast.id] = await self._counted_elsewhere(broadcast.id)
        self.elsewhere = elsewhere
        async with self.redis.pipeline(transaction=False) as pipe:
            for broadcast in list(self.broadcasts.by_room.values()):
                webrtc, hls = self.broadcasts.audience(broadcast)
                pipe.set(_total_key(broadcast.id), f"{webrtc} {hls}", px=ttl)
            await pipe.execute()

    async def _counted_elsewhere(self, broadcast_id: str) -> tuple[int, int]:
        edges = sorted(_text(n) for n in await self.redis.smembers(f"parta:viewers:{broadcast_id}"))
        if not edges:
            return 0, 0
        values = await self.redis.mget([_count_key(broadcast_id, n) for n in edges])
        gone = [n for n, v in zip(edges, values, strict=True) if v is None]
        if gone:
            await self.redis.srem(f"parta:viewers:{broadcast_id}", *gone)
        counts = [_pair(v) for v in values if v is not None]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    async def audience(self, remote: Remote) -> tuple[int, int] | None:
        """(WebRTC, HLS) viewers of a broadcast another node hosts, on every node, as its
        origin counted them last; None when it has not said."""
        value = await self.redis.get(_total_key(remote.id))
        return None if value is None else _pair(value)

    # -- origin side ------------------------------------------------------------------

    def add_pipe(self, viewer: Viewer) -> None:
        viewer.feeds_edge = True
        self.pipes[viewer.id] = viewer

        def gone(transport: object) -> None:
            if self.pipes.pop(viewer.id, None) is not None and viewer.seat is not None:
                self.pipe_bytes += sum(end.bytes for end in viewer.seat.ends.values())

        viewer.transport.on_closed.append(gone)

    def pipe_bytes_total(self) -> int:
        live = sum(
            end.bytes
            for viewer in self.pipes.values()
            if viewer.seat is not None
            for end in viewer.seat.ends.values()
        )
        return self.pipe_bytes + live

    # -- edge side --------------------------------------------------------------------

    async def relay(self, remote: Remote, origin_url: str) -> Relay:
        """The relay of this call, connected to its origin once however many viewers
        ask at the same time."""
        relay = self.relays.get(remote.call_id)
        if relay is not None and not relay.closed:
            if relay.remote.id == remote.id:
                return relay
            await relay.close()  # the call's earlier broadcast: its pipe is gone
        waiting = self._connecting.get(remote.call_id)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[Relay] = asyncio.get_running_loop().create_future()
        self._connecting[remote.call_id] = future
        try:
            used = self.secret
            try:
                relay = await self._connect(remote, origin_url)
            except OriginUnavailable as exc:
                # refused for want of the secret: ours may be older than Redis's
                if exc.status != 404:
                    raise
                try:
                    await self.read_secret()
                except Exception as lost:
                    raise OriginUnavailable(f"the cluster's secret: {lost}") from lost
                if self.secret == used:
                    raise
                relay = await self._connect(remote, origin_url)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._connecting.pop(remote.call_id, None)
        relay.on_closed = lambda r: self._relay_closed(r)
        self.relays[remote.call_id] = relay
        future.set_result(relay)
        return relay

    async def _connect(self, remote: Remote, origin_url: str) -> Relay:
        relay = Relay(self.worker, remote)
        try:
            assert self._http is not None
            await relay.connect(self._http, origin_url, self.secret)
        except BaseException:
            await relay.close()
            await self.worker.close_router(relay.router.id)
            raise
        return relay

    def _relay_closed(self, relay: Relay) -> None:
        if self.relays.get(relay.remote.call_id) is relay:
            del self.relays[relay.remote.call_id]
        task = asyncio.create_task(self.worker.close_router(relay.router.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def viewer(self, session: str) -> Viewer | None:
        """A viewer on this edge, by the session secret that ends its Location."""
        return session_of((v for r in self.relays.values() for v in r.viewers.values()), session)

    async def forget(self, broadcasts: list[Broadcast]) -> None:
        """This node stops: its broadcasts leave the directory."""
        keys = [f"parta:watch:{b.token}" for b in broadcasts]
        keys += [f"parta:broadcast:{b.id}" for b in broadcasts]
        if keys:
            with contextlib.suppress(Exception):
                await self.redis.delete(*keys)

    async def close(self) -> None:
        if self._counter is not None:
            self._counter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._counter
        self.broadcasts.elsewhere = lambda broadcast: (0, 0)
        with contextlib.suppress(Exception):  # our viewers leave the origins' counts
            here = [_count_key(b, self.node_id) for b in self._reported]
            if here:
                await self.redis.delete(*here)
        for relay in list(self.relays.values()):
            await relay.close()
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        if self._http is not None:
            await self._http.close()


def _count_key(broadcast_id: str, node_id: str) -> str:
    """How many watch a broadcast through one node."""
    return f"parta:viewers:{broadcast_id}:node:{node_id}"


def _total_key(broadcast_id: str) -> str:
    """How many watch it on every node, as its origin added them up."""
    return f"parta:viewers:{broadcast_id}:total"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pair(value: bytes | str) -> tuple[int, int]:
    webrtc, hls = _text(value).split()
    return int(webrtc), int(hls)


