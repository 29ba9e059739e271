"""Three parta nodes as separate processes on 127.0.0.1, one real redis-server and one
real PostgreSQL: a call is placed once however the nodes race; chat events reach members
on every node in order; a voice message queued on a node without a working transcriber
is transcribed on another; and when a node is SIGKILLed, its call starts again on a live
node and its people get back in, while other calls and chats carry on."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.calls.test_call import wait_for
from tests.chat.school import events, make_school
from tests.chat.test_http import class_chat
from tests.store.conftest import postgres_url
from tests.support.accounts import bearer, sign_up
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack
from tests.support.nodes import Node, running_nodes
from tests.support.redis import redis_server
from tests.support.speech import ENGLISH, speak_english, to_opus, word_error_rate
from tests.support.tus import TusClient
from tests.transcription.test_transcripts import TYPES
from tests.web.http.test_whip_whep import watch_at

__all__ = ["postgres_url"]

# how long people of a SIGKILLed node's call may take to be back in it: the node's key
# expires (5 s TTL), then a join places the call anew and media flows again
BACK_IN_CALL = 15.0


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    with redis_server(tmp_path) as url:
        yield url


async def ask_to_join(
    http: aiohttp.ClientSession, node: str, call: str, token: str, link: str | None
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(f"{node.replace('http', 'ws', 1)}ws", headers=bearer(token))
    message: dict[str, Any] = {"type": "join", "version": 1, "call": call, "name": "racer"}
    if link is not None:
        message["link"] = link
    await ws.send_json(message)
    while True:
        reply = json.loads((await ws.receive(timeout=15)).data)
        if reply["type"] in ("joined", "redirect", "error"):
            return ws, reply


async def gauge(node: Node, http: aiohttp.ClientSession, name: str) -> float:
    return (await node.metrics(http)).get(name, 0.0)


async def test_a_call_is_placed_once_and_chat_events_reach_every_node_in_order(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        running_nodes(tmp_path, http, redis_url, postgres_url) as nodes,
    ):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        # three people ask three nodes for the same new call at the same moment
        tokens = [(await sign_up(http, node.url, f"racer {node.name}"))[0] for node in (a, b, c)]
        answers = await asyncio.gather(
            *(
                ask_to_join(http, n.url, "race", t, None)
                for n, t in zip((a, b, c), tokens, strict=True)
            )
        )
        hosts = set()
        for node, (_, reply) in zip((a, b, c), answers, strict=True):
            assert reply["type"] in ("joined", "redirect"), reply
            hosts.add(node.url.rstrip("/") if reply["type"] == "joined" else reply["node"])
        assert len(hosts) == 1, answers
        rooms = [await gauge(n, http, "parta_rooms") for n in (a, b, c)]
        assert sorted(rooms) == [0.0, 0.0, 1.0], rooms
        for ws, _ in answers:
            await ws.close()

        # a chat: the teacher posts through a; pupils connected to b and c get every
        # message, in order, and a notification; a read mark on c reaches the teacher on b
        school = await make_school(http, a.url, students=2)
        chat = await class_chat(school)
        on = {n.name: dataclasses.replace(school, base=n.url) for n in (a, b, c)}
        teacher_b = await events(on["b"], school.teacher)
        pupil_b = await events(on["b"], school.students[0])
        pupil_c = await events(on["c"], school.students[1])
        phone_a = await events(on["a"], school.students[1])  # the same pupil's phone
        await pupil_c.send({"type": "focus", "chat_id": chat})  # reading it: no notifications
        async with Redis.from_url(redis_url) as redis:  # c has told the cluster
            while not [key async for key in redis.scan_iter("parta:reading:*")]:
                await asyncio.sleep(0.05)
        texts = [f"Homework, line {i}" for i in range(20)]
        for text in texts:
            status, _ = await school.call(
                school.teacher, "POST", f"api/chats/{chat}/messages", {"text": text}
            )
            assert status == 201
        for live in (pupil_b, pupil_c, phone_a, teacher_b):
            got = await live.posts(len(texts), timeout=10)
            assert [m["text"] for m in got] == texts
            seqs = [m["seq"] for m in got]
            assert seqs == sorted(seqs)
        assert len(await pupil_b.wait_for("notification", len(texts))) == len(texts)
        assert pupil_c.of("notification") == []
        assert phone_a.of("notification") == []  # read on c: not on a either
        assert teacher_b.of("notification") == []  # one's own messages do not notify
        last = pupil_c.of("message")[-1]["message"]["seq"]
        status, _ = await on["c"].call(
            school.students[1], "POST", f"api/chats/{chat}/read", {"seq": last}
        )
        assert status in (200, 204)
        [read] = await teacher_b.wait_for("read")
        assert read["seq"] == last and read["profile_id"] == school.students[1].profile["id"]
        metrics = await b.metrics(http)
        assert metrics['parta_bus_events_total{direction="received"}'] >= len(texts)
        for live in (teacher_b, pupil_b, pupil_c, phone_a):
            await live.close()


async def test_a_voice_message_queued_on_a_is_transcribed_on_c_when_as_worker_stops(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    wav = speak_english(ENGLISH[2], tmp_path / "voice.wav")
    voice = to_opus(wav, tmp_path / "voice.ogg", "ogg").read_bytes()
    speech = ["--speech-model", "tiny.en", "--transcribers", "1", "--job-claim-after", "3"]
    async with (
        aiohttp.ClientSession() as http,
        running_nodes(tmp_path, http, redis_url, postgres_url, ("a", "b"), {"a": speech}) as nodes,
    ):
        a, b = nodes["a"], nodes["b"]
        school = await make_school(http, a.url, students=1)
        chat = await class_chat(school)
        teacher_b = await events(dataclasses.replace(school, base=b.url), school.teacher)
        # a's transcriber is stopped (SIGSTOP) as soon as a takes the job
        pupil = school.students[0]
        file_id = await TusClient(http, a.url, pupil.token).upload(
            chat, voice, "voice.ogg", TYPES["ogg"]
        )
        status, message = await school.call(
            pupil,
            "POST",
            f"api/chats/{chat}/messages",
            {"kind": "voice", "file_id": file_id, "duration": 4.0},
        )
        assert status == 201 and message["transcript_status"] == "pending"
        worker = await _child_of(a.pid)
        os.kill(worker, signal.SIGSTOP)
        metrics = await a.metrics(http)
        assert metrics.get('parta_job_queue_events_total{event="taken"}') == 1.0
        # c comes up with a transcriber; a (with its stopped worker) dies
        async with running_nodes(
            tmp_path, http, redis_url, postgres_url, ("c",), {"c": speech}
        ) as more:
            c = more["c"]
            a.kill()
            os.kill(worker, signal.SIGKILL)
            started = time.monotonic()

            async def updated() -> dict[str, Any]:
                while True:
                    for event in teacher_b.of("message_updated"):
                        if event["message"]["id"] == message["id"]:
                            return dict(event["message"])
                    await asyncio.sleep(0.1)

            done = await asyncio.wait_for(updated(), 90)
            assert done["transcript_status"] == "done", done
            assert word_error_rate(ENGLISH[2], done["transcript"]) <= 0.25, done["transcript"]
            print(f"transcribed on c {time.monotonic() - started:.1f} s after a died")
            metrics = await c.metrics(http)
            assert metrics['parta_job_queue_events_total{event="reclaimed"}'] == 1.0
            assert metrics['parta_transcription_jobs_total{kind="voice",outcome="done"}'] == 1.0
        await teacher_b.close()


async def _child_of(pid: int, timeout: float = 30.0) -> int:
    """The first child process of `pid` (a node's transcriber worker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            if children:
                return int(children[0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"process {pid} started no worker")


def sees(client: CallClient, number: int) -> bool:
    return any(r.patterns and r.patterns[-1][0] == number for r in client.recorders.values())


async def join_somewhere(
    http: aiohttp.ClientSession,
    entries: list[Node],
    call: str,
    name: str,
    token: str,
    link: str | None,
    deadline: float = BACK_IN_CALL,
) -> CallClient:
    """Join as the web client does: ask a node (the load balancer's pick), follow a
    redirect, and try again (another node) when a node does not answer."""
    give_up = time.monotonic() + deadline
    while True:
        for entry in entries:
            client = CallClient(http, entry.url, call, name)
            client.session_token = token
            try:
                await client.join(link=link)
                return client
            except (aiohttp.ClientError, OSError, TimeoutError):
                await client.close()
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.3)


def node_of(client: CallClient, nodes: dict[str, Node]) -> Node:
    [node] = [n for n in nodes.values() if n.url.replace("http", "ws", 1) + "ws" == client.url]
    return node


async def test_a_killed_nodes_call_starts_again_on_a_live_node(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        running_nodes(tmp_path, http, redis_url, postgres_url) as nodes,
    ):
        a, b = nodes["a"], nodes["b"]
        # the lesson: its host asks a, a pupil asks b; it lives on one node
        host_token, _ = await sign_up(http, a.url, "host")
        pupil_token, _ = await sign_up(http, b.url, "pupil")
        host = await join_somewhere(http, [a], "lesson", "host", host_token, None)
        link = host.invite_token
        assert link is not None
        pupil = await join_somewhere(http, [b], "lesson", "pupil", pupil_token, link)
        victim = node_of(host, nodes)
        assert pupil.url == host.url
        await host.publish(
            [(PatternVideoTrack(1), "camera"), (ToneAudioTrack(440.0), "microphone")]
        )
        await pupil.publish(
            [(PatternVideoTrack(2), "camera"), (ToneAudioTrack(660.0), "microphone")]
        )
        await wait_for(lambda: sees(host, 2) and sees(pupil, 1), 20)

        # another call, on another node, and a chat: they must not notice
        await asyncio.sleep(1.2)  # a heartbeat: the lesson's node is the busiest now
        others = [n for n in nodes.values() if n is not victim]
        bystander_token, _ = await sign_up(http, others[0].url, "bystander")
        bystander = await join_somewhere(http, others, "other", "bystander", bystander_token, None)
        assert bystander.url != host.url
        school = await make_school(http, others[0].url, students=1)
        chat = await class_chat(school)
        watching = await events(dataclasses.replace(school, base=others[1].url), school.teacher)

        victim.kill()
        killed = time.monotonic()
        for client in (host, pupil):
            await client.close()
        host = await join_somewhere(http, others, "lesson", "host", host_token, link)
        pupil = await join_somewhere(http, others, "lesson", "pupil", pupil_token, link)
        assert host.url == pupil.url and node_of(host, nodes) is not victim
        await host.publish(
            [(PatternVideoTrack(1), "camera"), (ToneAudioTrack(440.0), "microphone")]
        )
        await pupil.publish(
            [(PatternVideoTrack(2), "camera"), (ToneAudioTrack(660.0), "microphone")]
        )
        await wait_for(lambda: sees(host, 2) and sees(pupil, 1), BACK_IN_CALL)
        back = time.monotonic() - killed
        print(f"back in the call, seeing each other, {back:.1f} s after SIGKILL")
        assert back < BACK_IN_CALL

        # the other call and the chat carried on
        assert bystander.ws is not None and not bystander.ws.closed
        assert not [m for m in bystander.messages if m["type"] in ("peer_left", "error")]
        status, _ = await school.call(
            school.teacher, "POST", f"api/chats/{chat}/messages", {"text": "still here"}
        )
        assert status == 201
        [got] = await watching.posts()
        assert got["text"] == "still here"
        # the live nodes see two nodes, the dead one gone
        await asyncio.sleep(1.2)
        for node in others:
            assert await gauge(node, http, "parta_cluster_nodes") == 2.0
        await watching.close()
        for client in (host, pupil, bystander):
            await client.close()


def told_viewers(host: CallClient) -> tuple[int, int] | None:
    """The viewer counts a host was told last."""
    told = [m for m in host.messages if m["type"] == "broadcast_viewers"]
    return (told[-1]["webrtc"], told[-1]["hls"]) if told else None


async def test_a_broadcast_on_one_node_is_watched_on_the_others_pulled_once_per_edge(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        running_nodes(tmp_path, http, redis_url, postgres_url) as nodes,
    ):
        token, _ = await sign_up(http, nodes["a"].url, "host")
        host = await join_somewhere(http, [nodes["a"]], "assembly", "host", token, None)
        origin = node_of(host, nodes)
        edges = [n for n in nodes.values() if n is not origin]
        await host.publish(
            [(PatternVideoTrack(7), "camera"), (ToneAudioTrack(440.0), "microphone")]
        )
        link = host.expect("broadcast_link")
        await host.send({"type": "start_broadcast", "public": True})
        watch_link = (await asyncio.wait_for(link, 20))["watch_link"]

        viewers = []
        for edge in edges:  # two viewers on each edge
            for _ in range(2):
                viewers.append(await watch_at(http, f"{edge.url}{watch_link[1:]}/whep", {}))

        def watching(recorders: dict[str, Any]) -> bool:
            video = recorders.get("video")
            return (
                video is not None
                and len(video.patterns) > 10
                and video.patterns[-1][0] == 7
                and "audio" in recorders
                and recorders["audio"].frames > 10
            )

        await wait_for(lambda: all(watching(r) for _, _, r in viewers), 30)
        # the origin sends the stage once to each edge: two pipes, two WHEP connections,
        # which are not viewers: the edges count theirs
        metrics = await origin.metrics(http)
        assert metrics["parta_edge_pipes"] == 2.0
        assert metrics["parta_viewers"] == 2.0
        assert metrics['parta_broadcast_viewers{tier="webrtc"}'] == 0.0
        assert metrics["parta_edge_pipe_bytes_total"] > 0
        for edge in edges:
            on_edge = await edge.metrics(http)
            assert on_edge["parta_edge_relays"] == 1.0
            assert on_edge['parta_edge_viewers{tier="webrtc"}'] == 2.0
            assert on_edge["parta_edge_pipes"] == 0.0
        # the host hears of every node's viewers, and so does the watch page on an edge
        await wait_for(lambda: told_viewers(host) == (4, 0), 15)
        token = watch_link.rsplit("/", 1)[-1]

        async def watch_info(node: Node) -> dict[str, Any]:
            async with http.get(f"{node.url}api/watch/{token}") as response:
                assert response.status == 200
                return dict(await response.json())

        at_origin = await watch_info(origin)
        deadline = time.monotonic() + 10
        while (info := await watch_info(edges[0]))["viewers"] != {"webrtc": 4, "hls": 0}:
            assert time.monotonic() < deadline, info
            await asyncio.sleep(0.3)
        for field in ("title", "started_at", "public", "hls", "whep"):
            assert info[field] == at_origin[field], field
        assert at_origin["viewers"] == {"webrtc": 4, "hls": 0}
        # the HLS files answer on every node (shared storage)
        async with http.get(f"{edges[0].url}{info['hls'][1:]}") as response:
            assert response.status == 200, await response.text()
            playlist = await response.text()
        parts = [line for line in playlist.splitlines() if line.startswith("#EXT-X-PART:")]
        assert parts, playlist
        msn = int(parts[-1].split('URI="s', 1)[1].split(".", 1)[0])
        blocking = f"{edges[1].url}{info['hls'][1:]}?_HLS_msn={msn + 1}&_HLS_part=0"
        async with http.get(blocking) as response:  # held until that part is written
            assert response.status == 200
            assert f"s{msn + 1}.0.m4s" in await response.text()
        async with http.get(f"{edges[1].url}{info['hls'][1:].replace('live', 'index')}") as r:
            assert r.status == 200
        # a viewer leaves an edge (WHEP DELETE there); the pipe stays for the other
        pc, location, recorders = viewers.pop()
        async with http.delete(f"{edges[1].url}{location[1:]}") as response:
            assert response.status == 200
        for recorder in recorders.values():
            await recorder.stop()
        await pc.close()
        await asyncio.sleep(0.5)
        on_edge = await edges[1].metrics(http)
        assert on_edge['parta_edge_viewers{tier="webrtc"}'] == 1.0
        assert on_edge['parta_edge_viewers{tier="hls"}'] == 1.0  # this test, reading HLS
        assert (await origin.metrics(http))["parta_edge_pipes"] == 2.0
        # the host is told of one fewer (WebRTC) viewer
        await wait_for(lambda: (told_viewers(host) or (0, 0))[0] == 3, 15)

        # the broadcast ends: the edges let their viewers go
        await host.send({"type": "stop_broadcast"})

        async def relays_gone() -> bool:
            for edge in edges:
                if (await edge.metrics(http))["parta_edge_relays"] != 0.0:
                    return False
            return True

        deadline = time.monotonic() + 30
        while not await relays_gone():
            assert time.monotonic() < deadline, "the edges kept relaying an ended broadcast"
            await asyncio.sleep(0.5)
        for pc, _, recorders in viewers:
            for recorder in recorders.values():
                await recorder.stop()
            await pc.close()
        await host.close()


async def test_a_node_that_stops_cleanly_hands_its_call_over_at_once(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        running_nodes(tmp_path, http, redis_url, postgres_url, ("a", "b")) as nodes,
    ):
        host_token, _ = await sign_up(http, nodes["a"].url, "host")
        pupil_token, _ = await sign_up(http, nodes["b"].url, "pupil")
        host = await join_somewhere(http, [nodes["a"]], "drill", "host", host_token, None)
        link = host.invite_token
        pupil = await join_somewhere(http, [nodes["b"]], "drill", "pupil", pupil_token, link)
        leaving = node_of(host, nodes)
        staying = next(n for n in nodes.values() if n is not leaving)
        await host.publish([(PatternVideoTrack(1), "camera")])
        await wait_for(lambda: sees(pupil, 1), 20)

        assert leaving.server.process is not None
        leaving.server.process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert pupil._reader is not None
        await asyncio.wait_for(asyncio.shield(pupil._reader), 10)  # closed by the node
        for client in (host, pupil):
            await client.close()
        host = await join_somewhere(http, [staying], "drill", "host", host_token, link, 5)
        pupil = await join_somewhere(http, [staying], "drill", "pupil", pupil_token, link, 5)
        assert node_of(host, nodes) is staying and node_of(pupil, nodes) is staying
        back = time.monotonic() - stopped
        print(f"both back in the call {back:.1f} s after SIGTERM")
        assert back < 5.0  # no waiting for the dead node's key to expire
        assert await leaving.server.process.wait() == 0
        for client in (host, pupil):
            await client.close()
