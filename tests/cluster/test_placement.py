"""Nodes and call placement in a real redis-server: three nodes racing to start one call
agree on one node, the least loaded; a node that dies is gone within its TTL and its
calls are placed again on a live node; a draining node takes nothing new."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from cluster.nodes import Cluster
from tests.support.redis import redis_server


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    with redis_server(tmp_path) as url:
        yield url


class FakeLoad:
    """What a node reports of itself: the numbers a test gives it."""

    def __init__(self, rooms: int, peers: int) -> None:
        self.rooms, self.peers = rooms, peers
        self.calls: list[str] = []

    def load(self) -> tuple[int, int]:
        return self.rooms, self.peers


async def node(
    redis_url: str, name: str, rooms: int, peers: int, heartbeat: float = 0.3
) -> tuple[Cluster, FakeLoad]:
    load = FakeLoad(rooms, peers)
    cluster = Cluster(
        Redis.from_url(redis_url),
        name,
        f"http://127.0.0.1/{name}",
        load.load,
        lambda: list(load.calls),
        ttl=max(1.5, 5 * heartbeat),
        heartbeat=heartbeat,
    )
    await cluster.start()
    return cluster, load


async def test_racing_nodes_agree_and_the_least_loaded_gets_the_call(redis_url: str) -> None:
    a, _ = await node(redis_url, "a", rooms=2, peers=10)
    b, _ = await node(redis_url, "b", rooms=0, peers=0)
    c, _ = await node(redis_url, "c", rooms=1, peers=3)
    try:
        assert [n.id for n in await a.nodes()] == ["b", "c", "a"]
        for attempt in range(20):
            call = f"assembly-{attempt}"
            owners = await asyncio.gather(*(x.place(call) for x in (a, b, c, a, b, c)))
            assert len(set(owners)) == 1, owners
        assert await a.place("assembly-0") == "b"
        assert await c.url_of("b") == "http://127.0.0.1/b"
    finally:
        for x in (a, b, c):
            await x.stop()


async def test_calls_started_within_one_heartbeat_are_spread_over_the_nodes(
    redis_url: str,
) -> None:
    """Between two heartbeats the nodes' reported loads are stale: each placement counts
    its call on its node at once, so a burst does not all land on the idlest node."""
    a, _ = await node(redis_url, "a", rooms=0, peers=0, heartbeat=30)
    b, _ = await node(redis_url, "b", rooms=0, peers=0, heartbeat=30)
    c, _ = await node(redis_url, "c", rooms=1, peers=2, heartbeat=30)  # busy already
    try:
        owners = [await (a, b, c)[i % 3].place(f"lesson-{i}") for i in range(8)]
        assert sorted(owners) == ["a"] * 3 + ["b"] * 3 + ["c"] * 2, owners
        # the next heartbeat says what each node really carries
        await a.beat()
        assert next(n.id for n in await a.nodes()) == "a"
    finally:
        for x in (a, b, c):
            await x.stop()


async def test_a_dead_nodes_calls_go_elsewhere_and_a_draining_node_takes_none(
    redis_url: str,
) -> None:
    a, _ = await node(redis_url, "a", rooms=3, peers=9)
    b, b_load = await node(redis_url, "b", rooms=0, peers=0)
    c, c_load = await node(redis_url, "c", rooms=1, peers=2)
    try:
        assert await a.place("lesson") == "b"
        b_load.calls.append("lesson")
        await asyncio.sleep(1.0)
        assert await c.owner("lesson") == "b"  # renewed by b's heartbeat
        # b dies: no goodbye, its heartbeat just stops
        assert b._task is not None
        b._task.cancel()
        died = time.monotonic()
        while any(n.id == "b" for n in await a.nodes()):
            await asyncio.sleep(0.05)
        gone = time.monotonic() - died
        assert gone <= b.ttl + 0.5, gone
        assert await a.place("lesson") == "c"  # placed again, on a live node
        # c drains: nothing new goes there; what it had is handed back
        c_load.calls.append("lesson")
        await c.drain()
        assert await c.owner("lesson") is None
        assert await a.place("lesson") == "a"
        assert await c.place("another") == "a"
        await asyncio.sleep(0.6)  # c's heartbeats keep it out of the running
        assert [n.id for n in await a.nodes()] == ["a"]
        # only the owner releases a call
        await c.release("another")
        assert await a.owner("another") == "a"
    finally:
        for x in (a, c):
            await x.stop()
        await b.redis.aclose()
