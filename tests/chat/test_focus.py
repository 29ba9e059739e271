"""Focus across nodes: a member reading a chat on one node gets no notification for it on
another node (a phone connected elsewhere), and gets them again when they stop reading
it, or when the connection reading it goes; a focus left by a node that died counts for
nothing, and one written by a node whose wall clock is slow counts all the same. Two
parta nodes, one real redis-server, one real PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from cluster.focus import PREFIX
from tests.chat.school import Events, School, events, make_school
from tests.chat.test_http import class_chat
from tests.cluster.test_nodes import redis_url, start_node
from tests.store.conftest import postgres_url
from web import keys

__all__ = ["postgres_url", "redis_url"]


async def test_a_chat_read_on_one_node_does_not_notify_on_another(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    a = await start_node(tmp_path, "a", redis_url, postgres_url)
    b = await start_node(tmp_path, "b", redis_url, postgres_url)
    redis = Redis.from_url(redis_url)
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, str(a.make_url("/")), students=1)
            chat = await class_chat(school)
            pupil = school.students[0]
            on_b = dataclasses.replace(school, base=str(b.make_url("/")))
            laptop = await events(school, pupil)  # on a
            phone = await events(on_b, pupil)
            await laptop.send({"type": "focus", "chat_id": chat})
            readers = f"{PREFIX}{chat}"  # who reads the chat, on any node
            await wait_until(lambda: redis.hlen(readers), 1)
            [value] = (await redis.hgetall(readers)).values()
            user_id = value.decode().split("|")[0]
            sent = 0

            async def post(text: str, via: School = school) -> None:
                nonlocal sent
                await say(via, chat, text)
                sent += 1
                await phone.posts(sent)  # the message itself reaches both

            await post("read on the laptop")  # through a, whose hub knows the laptop
            await post("posted through b", via=on_b)  # b reads a's word in Redis
            await settle()
            assert phone.of("notification") == [] and laptop.of("notification") == []

            # the laptop turns to another screen: the phone is notified again
            await laptop.send({"type": "focus", "chat_id": None})
            await wait_until(lambda: redis.hlen(readers), 0)
            await post("nobody reads it now")
            await notified(phone, 1)

            # reading again, then the laptop's connection goes: its focus goes with it
            await laptop.send({"type": "focus", "chat_id": chat})
            await wait_until(lambda: redis.hlen(readers), 1)
            await post("read again")
            await settle()
            assert len(phone.of("notification")) == 1
            await laptop.close()
            await wait_until(lambda: redis.hlen(readers), 0)
            await post("the laptop is gone")
            await notified(phone, 2)

            # a focus a dead node left (not renewed for long) is not believed, and goes
            await redis.hset(readers, "gone-node/c0ffee", f"{user_id}|1000")
            await post("after a node died")
            await notified(phone, 3)
            await wait_until(lambda: redis.hlen(readers), 0)
            await phone.close()
    finally:
        await redis.aclose()
        await a.close()
        await b.close()


async def test_a_node_whose_wall_clock_is_slow_is_believed(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """b's wall clock is 2 minutes slow (more than a focus takes to go stale): its
    heartbeat sets it by Redis's, so what it writes is fresh to a."""
    a = await start_node(tmp_path, "a", redis_url, postgres_url)
    b = await start_node(tmp_path, "b", redis_url, postgres_url)
    redis = Redis.from_url(redis_url)
    try:
        clock = b.app[keys.CLUSTER].clock
        clock.wall = lambda: time.time() - 120
        for _ in range(100):  # the next heartbeat measures the offset again
            if clock.offset > 100:
                break
            await asyncio.sleep(0.05)
        seconds, micros = await redis.time()
        assert abs(clock.now() - (seconds + micros / 1e6)) < 0.1
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, str(a.make_url("/")), students=1)
            chat = await class_chat(school)
            on_b = dataclasses.replace(school, base=str(b.make_url("/")))
            phone = await events(school, school.students[0])  # on a
            laptop = await events(on_b, school.students[0])
            await laptop.send({"type": "focus", "chat_id": chat})
            await wait_until(lambda: redis.hlen(f"{PREFIX}{chat}"), 1)
            await say(school, chat, "read on b's laptop")
            await phone.posts(1)
            await settle()
            assert phone.of("notification") == []
            assert await redis.hlen(f"{PREFIX}{chat}") == 1  # not taken for a dead node's
            await phone.close()
            await laptop.close()
    finally:
        await redis.aclose()
        await a.close()
        await b.close()


async def say(school: School, chat: str, text: str) -> None:
    status, _ = await school.call(
        school.teacher, "POST", f"api/chats/{chat}/messages", {"text": text}
    )
    assert status == 201


async def settle() -> None:
    """Long enough for a notification that was going to come across nodes to come."""
    await asyncio.sleep(0.5)


async def notified(member: Events, count: int) -> None:
    await member.wait_for("notification", count)
    await settle()
    assert len(member.of("notification")) == count


async def wait_until(read: object, value: int) -> None:
    assert callable(read)
    for _ in range(100):
        if await read() == value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {await read()}, not {value}")
