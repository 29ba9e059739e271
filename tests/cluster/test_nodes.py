"""Two parta nodes on one Redis and one PostgreSQL: a call lives on one node; someone who
asks the other node for it is redirected there, and then both people in the call decode
each other's media. A single node refuses a cluster on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from broadcast.edges import SECRET_KEY, SECRET_REREAD
from cluster.bus import STREAM as BUS_STREAM
from harness.server import fetch_metrics
from tests.calls.test_call import wait_for
from tests.chat.school import Events, School, events, make_school
from tests.chat.test_http import class_chat
from tests.store.conftest import postgres_url
from tests.support.accounts import sign_up
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack
from tests.support.redis import RedisProcess, free_port, redis_server
from tests.support.server import start_server
from tests.web.http.test_whip_whep import watch_at
from web import keys
from web.cli import build_parser, config_from_args

__all__ = ["postgres_url"]


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    with redis_server(tmp_path) as url:
        yield url


async def start_node(tmp_path: Path, name: str, redis_url: str, database: str) -> TestServer:
    port = free_port()
    return await start_server(
        tmp_path / name,
        port=port,
        redis_url=redis_url,
        node_id=name,
        database_url=database,
        public_url=f"http://127.0.0.1:{port}",
    )


async def test_a_participant_who_asks_the_other_node_is_sent_to_the_calls_node(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    a = await start_node(tmp_path, "a", redis_url, postgres_url)
    b = await start_node(tmp_path, "b", redis_url, postgres_url)
    clients: list[CallClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            base_a, base_b = str(a.make_url("/")), str(b.make_url("/"))
            first = CallClient(http, base_a, "assembly", "on a")
            await first.join()  # placed on a: the least loaded (a tie, a sorts first)
            clients.append(first)
            assert await b.app[keys.CLUSTER].owner("assembly") == "a"
            await first.publish(
                [(PatternVideoTrack(1), "camera"), (ToneAudioTrack(440.0), "microphone")]
            )

            # someone asks b: b says where the call is (b and a share the accounts)
            token, _ = await sign_up(http, base_b, "asks b")
            async with http.ws_connect(
                f"{base_b.replace('http', 'ws', 1)}ws",
                headers={"Authorization": f"Bearer {token}"},
            ) as ws:
                link = first.invite_token
                await ws.send_json(
                    {
                        "type": "join",
                        "version": 1,
                        "call": "assembly",
                        "name": "asks b",
                        "link": link,
                    }
                )
                reply = json.loads((await ws.receive()).data)
            ticket = reply.pop("ticket")
            assert reply == {"type": "redirect", "node": base_a.rstrip("/"), "call": "assembly"}
            assert "assembly" not in b.app[keys.CALLS].rooms
            # a browser has no cookie for a's host name: the ticket logs it in there, once
            ws_a = f"{base_a.replace('http', 'ws', 1)}ws"
            async with http.ws_connect(f"{ws_a}?ticket={ticket}") as ws:
                join = {"type": "join", "version": 1, "call": "assembly", "link": link}
                await ws.send_json({**join, "name": "asks b"})
                joined = json.loads((await ws.receive()).data)
                assert joined["type"] == "joined", joined
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{ws_a}?ticket={ticket}")
            assert refused.value.status == 401

            second = CallClient(http, reply["node"] + "/", "assembly", "asks b")
            second.session_token = token
            await second.join(link=link)
            clients.append(second)
            await second.publish(
                [(PatternVideoTrack(2), "camera"), (ToneAudioTrack(660.0), "microphone")]
            )

            def sees(client: CallClient, number: int) -> bool:
                return any(
                    r.patterns and r.patterns[-1][0] == number for r in client.recorders.values()
                )

            await wait_for(lambda: sees(first, 2) and sees(second, 1), 20)
            # WHEP through b: sent to a, method and offer kept (307)
            from tests.web.http.test_whip_whep import watch_at

            headers = {"Authorization": f"Bearer {link}"}
            async with http.post(
                f"{base_b}whep/assembly",
                data="v=0\r\n",
                headers={"Content-Type": "application/sdp", **headers},
                allow_redirects=False,
            ) as response:
                assert response.status == 307
                location = response.headers["Location"]
                assert location == f"{base_a}whep/assembly"
            # a WHEP client sends its offer and its bearer token again, to the new place
            # (an HTTP client drops Authorization on a redirect to another origin)
            viewer, _, recorders = await watch_at(http, location, headers)
            await wait_for(lambda: "video" in recorders and recorders["video"].frames > 5, 15)
            assert len(a.app[keys.CALLS].rooms["assembly"].viewers) == 1
            for recorder in recorders.values():
                await recorder.stop()
            await viewer.close()

            # the call's node counts them; the other knows of it only through Redis
            await asyncio.sleep(1.2)  # a heartbeat
            nodes = {n.id: n for n in await b.app[keys.CLUSTER].nodes()}
            assert nodes["a"].load.peers == 2 and nodes["b"].load.peers == 0
    finally:
        for client in clients:
            await client.close()
        await a.close()
        await b.close()


def test_a_cluster_on_sqlite_is_refused() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit, match="PostgreSQL"):
        config_from_args(parser.parse_args(["serve", "--redis-url", "redis://127.0.0.1:6379/0"]))
    config = config_from_args(
        parser.parse_args(
            [
                "serve",
                "--redis-url",
                "redis://127.0.0.1:6379/0",
                "--database-url",
                "postgresql+asyncpg://parta@127.0.0.1/parta",
                "--node-id",
                "node-1",
            ]
        )
    )
    assert (config.redis_url, config.node_id) == ("redis://127.0.0.1:6379/0", "node-1")


@dataclasses.dataclass
class ChatAcross:
    """A class chat with nodes a and b on one Redis: the teacher posts through a, a pupil
    listens on b."""

    http: aiohttp.ClientSession
    school: School
    chat: str
    base_b: str
    pupil_b: Events
    texts: list[str] = dataclasses.field(default_factory=list)  # posted, in order

    async def post(self, text: str) -> None:
        path = f"api/chats/{self.chat}/messages"
        status, _ = await self.school.call(self.school.teacher, "POST", path, {"text": text})
        assert status == 201
        self.texts.append(text)

    async def metrics(self) -> dict[str, float]:
        return await fetch_metrics(self.http, self.base_b)


@contextlib.asynccontextmanager
async def chat_across(tmp_path: Path, redis_url: str, database: str) -> AsyncIterator[ChatAcross]:
    a = await start_node(tmp_path, "a", redis_url, database)
    b = await start_node(tmp_path, "b", redis_url, database)
    try:
        async with aiohttp.ClientSession() as http:
            base_a, base_b = str(a.make_url("/")), str(b.make_url("/"))
            school = await make_school(http, base_a, students=1)
            chat = await class_chat(school)
            pupil_b = await events(dataclasses.replace(school, base=base_b), school.students[0])
            try:
                yield ChatAcross(http, school, chat, base_b, pupil_b)
            finally:
                await pupil_b.close()
    finally:
        await a.close()
        await b.close()


async def test_chat_events_survive_lost_redis_connections_and_a_redis_restart(
    tmp_path: Path, postgres_url: str
) -> None:
    """Messages posted through a while Redis drops every connection, and while it is
    down and comes back empty, all reach a member connected to b, in order."""
    redis = RedisProcess(tmp_path)
    redis.start()
    try:
        async with chat_across(tmp_path, redis.url, postgres_url) as across:
            killer = Redis.from_url(redis.url)
            for i in range(30):
                await across.post(f"line {i}")
                if i % 6 == 2:  # every node's connections to Redis cut
                    await killer.client_kill_filter(_type="normal", skipme=True)
            await killer.aclose()
            await across.pupil_b.posts(len(across.texts), timeout=20)

            redis.stop()  # Redis away: posts are kept, and published when it is back
            for i in range(5):
                await across.post(f"while Redis is down {i}")
            await asyncio.sleep(1.0)
            redis.start()
            for i in range(5):
                await across.post(f"after the restart {i}")
            got = await across.pupil_b.posts(len(across.texts), timeout=20)
            assert [m["text"] for m in got] == across.texts
            # Redis restarted: what b had not read yet may be lost, so b's clients read again
            await across.pupil_b.wait_for("resync", timeout=10)
            metrics = await across.metrics()
            assert metrics["parta_bus_reconnects_total"] >= 1
            assert metrics["parta_bus_gaps_total"] >= 1
    finally:
        redis.stop()


async def test_a_node_that_finds_events_trimmed_unread_tells_its_clients_to_read_again(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """A lost connection alone loses nothing, so it asks nobody to read again; events
    trimmed from the stream before b read them make b send `resync` to its clients."""
    redis = Redis.from_url(redis_url)
    try:
        async with chat_across(tmp_path, redis_url, postgres_url) as across:
            await across.post("before")
            await across.pupil_b.posts(1)

            async def cut_and_resumed() -> dict[str, float]:
                before = (await across.metrics())["parta_bus_reconnects_total"]
                await redis.client_kill_filter(_type="normal", skipme=True)
                while True:
                    metrics = await across.metrics()
                    if metrics["parta_bus_reconnects_total"] > before:
                        return metrics
                    await asyncio.sleep(0.05)

            metrics = await asyncio.wait_for(cut_and_resumed(), 10)
            assert metrics["parta_bus_gaps_total"] == 0
            assert not across.pupil_b.of("resync")

            # an event that no node reads: appended and trimmed at once
            envelope = {"u": [], "e": {"type": "message"}, "f": None}
            async with redis.pipeline(transaction=True) as pipe:
                pipe.xadd(BUS_STREAM, {"n": "gone", "i": "gone:1", "d": json.dumps(envelope)})
                pipe.xtrim(BUS_STREAM, maxlen=0)
                await pipe.execute()
            metrics = await asyncio.wait_for(cut_and_resumed(), 10)
            await across.pupil_b.wait_for("resync", timeout=5)
            assert metrics["parta_bus_gaps_total"] == 1

            # and the bus goes on as before
            await across.post("after")
            got = await across.pupil_b.posts(2, timeout=10)
            assert [m["text"] for m in got] == ["before", "after"]
    finally:
        await redis.aclose()


async def test_an_edge_and_an_origin_read_the_cluster_secret_again_when_it_changed(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """Redis restarted empty and a node started since made a new secret: a node still
    holding the old one reads it again when a pipe is refused (the edge) or offered with
    another (the origin), and the broadcast is watched on the edge all the same."""
    a = await start_node(tmp_path, "a", redis_url, postgres_url)
    b = await start_node(tmp_path, "b", redis_url, postgres_url)
    redis = Redis.from_url(redis_url)
    try:
        async with aiohttp.ClientSession() as http:
            host = CallClient(http, str(a.make_url("/")), "assembly", "host")
            await host.join()
            await host.publish(
                [(PatternVideoTrack(3), "camera"), (ToneAudioTrack(440.0), "microphone")]
            )
            link = host.expect("broadcast_link")
            await host.send({"type": "start_broadcast", "public": True})
            watch = (await asyncio.wait_for(link, 20))["watch_link"]
            whep = f"{str(b.make_url('/')).rstrip('/')}{watch}/whep"
            origin, edge = a.app[keys.EDGES], b.app[keys.EDGES]
            await asyncio.sleep(SECRET_REREAD)  # each node reads it at most this often

            async def watched() -> None:
                pc, _, recorders = await watch_at(http, whep, {})
                await wait_for(lambda: len(getattr(recorders.get("video"), "patterns", [])) > 5, 20)
                for recorder in recorders.values():
                    await recorder.stop()
                await pc.close()

            # the origin holds an old secret; the edge offers the new one
            await redis.set(SECRET_KEY, "made after a restart")
            edge.secret = "made after a restart"
            await watched()
            assert origin.secret == "made after a restart"

            # the edge holds an old one: refused, it reads it again and pulls again
            await edge.relays["assembly"].close()
            await redis.set(SECRET_KEY, "made after another restart")
            origin.secret = "made after another restart"
            await watched()
            assert edge.secret == "made after another restart"
            assert len(origin.pipes) == 1
            await host.close()
    finally:
        await redis.aclose()
        await a.close()
        await b.close()
