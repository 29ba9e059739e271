"""The waiting room with real aiortc peers: no media until admitted; deny; admit all;
the list survives a host's reconnect."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from tests.calls.test_call import wait_for
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack
from web import keys


async def host_with_waiting_room(
    http: aiohttp.ClientSession, base_url: str, call: str
) -> CallClient:
    teacher = CallClient(http, base_url, call, "teacher")
    joined = await teacher.join()
    assert joined["role"] == "host" and joined["host_token"]
    await teacher.publish([(PatternVideoTrack(1), "camera"), (ToneAudioTrack(440), "microphone")])
    update = teacher.expect("waiting_list")
    await teacher.send({"type": "set_waiting_room", "enabled": True})
    assert (await asyncio.wait_for(update, 5))["enabled"] is True
    return teacher


async def test_a_waiting_student_gets_no_media_until_admitted(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher = await host_with_waiting_room(http, base_url, "wr")
    student = CallClient(http, base_url, "wr", "student")
    listed = teacher.expect("waiting_list")
    waiting = await student.join(expect="waiting")
    assert waiting["call"] == "wr"
    entry = (await asyncio.wait_for(listed, 5))["waiting"]
    assert entry == [{"peer_id": student.peer_id, "name": "student"}]
    # while waiting: nothing flows, nothing but the outcome may be asked
    refused = await student.request({"type": "mute", "source": "camera", "muted": True}, "error")
    assert refused["code"] == "out_of_order"
    await asyncio.sleep(1)
    assert not student.recorders and student.subscribe_pc.connectionState == "new"
    assert student.peer_id not in teacher.peers
    router = app[keys.WORKER].routers["wr"]
    assert len(router.consumers) == 0
    registry = app[keys.METRICS].registry
    assert registry.get_sample_value("parta_waiting") == 1
    joined = student.expect("joined")
    await teacher.send({"type": "admit", "peer_id": student.peer_id})
    assert (await asyncio.wait_for(joined, 5))["peers"][0]["id"] == teacher.peer_id
    key = (teacher.peer_id, "camera")
    await wait_for(lambda: key in student.recorders and len(student.recorders[key].patterns) > 10)
    await wait_for(lambda: student.peer_id in teacher.peers)
    assert registry.get_sample_value("parta_waiting") == 0
    assert registry.get_sample_value("parta_host_actions_total", {"action": "admit"}) == 1
    await teacher.close()
    await student.close()


async def test_deny_admit_all_and_a_host_reconnect(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher = await host_with_waiting_room(http, base_url, "door")
    token = teacher.joined["host_token"]  # type: ignore[index]
    students = [CallClient(http, base_url, "door", f"s{i}") for i in range(3)]
    for student in students:
        await student.join(expect="waiting")
    await wait_for(lambda: len(teacher.waiting_list["waiting"]) == 3)  # type: ignore[index]
    denied = students[0].expect("denied")
    await teacher.send({"type": "deny", "peer_id": students[0].peer_id})
    assert (await asyncio.wait_for(denied, 5))["message"]
    await wait_for(lambda: students[0].ws.closed)  # type: ignore[union-attr]
    # the host reloads the page: the list is still there, and they are host again
    await teacher.close()
    back = CallClient(http, base_url, "door", "teacher")
    joined = await back.join(host_token=token)
    assert joined["role"] == "host" and joined["waiting_room"] is True
    await wait_for(lambda: back.waiting_list is not None)
    names = [w["name"] for w in back.waiting_list["waiting"]]  # type: ignore[index]
    assert names == ["s1", "s2"]
    admitted = [s.expect("joined") for s in students[1:]]
    await back.send({"type": "admit_all"})
    for future in admitted:
        await asyncio.wait_for(future, 5)
    await wait_for(lambda: len(back.peers) == 2)
    await wait_for(lambda: back.waiting_list["waiting"] == [])  # type: ignore[index]
    for client in (back, *students):
        await client.close()


async def test_with_no_host_people_keep_waiting_and_removal_sends_back_to_the_door(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher = await host_with_waiting_room(http, base_url, "hall")
    token = teacher.joined["host_token"]  # type: ignore[index]
    await teacher.send({"type": "set_waiting_room", "enabled": False})
    pupil = CallClient(http, base_url, "hall", "pupil")
    await pupil.join()
    # removing turns the waiting room on: coming back means waiting
    await teacher.send({"type": "remove_participant", "peer_id": pupil.peer_id})
    await wait_for(lambda: pupil.ws.closed)  # type: ignore[union-attr]
    again = CallClient(http, base_url, "hall", "pupil")
    await again.join(expect="waiting")
    await teacher.close()
    await asyncio.sleep(0.5)
    assert not again.ws.closed  # type: ignore[union-attr]
    joined = again.expect("joined")
    host = CallClient(http, base_url, "hall", "teacher")
    await host.join(host_token=token)
    await host.send({"type": "admit", "peer_id": again.peer_id})
    await asyncio.wait_for(joined, 5)
    for client in (pupil, again, host):
        await client.close()
